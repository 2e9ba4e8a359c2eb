/* global document, window */
/** Building the page's elements. Values reach the page through textContent or setAttribute, never as HTML. */

const SVG = 'http://www.w3.org/2000/svg';

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof window.Node ? c : String(c));
  return e;
}

export function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

/** columns: [{label, num?}], rows: arrays of cells (string, or {text, cls, title}) with an optional row class. */
export function fillTable(table, columns, rows, emptyText) {
  const head = el('tr', null, ...columns.map((c) => el('th', { class: c.num ? 'num' : null }, c.label)));
  const body = rows.length
    ? rows.map((r) =>
        el(
          'tr',
          { class: r.cls },
          ...r.cells.map((cell, i) => {
            const c = typeof cell === 'object' && cell !== null && !(cell instanceof window.Node) ? cell : { text: cell };
            const td = el('td', { class: [columns[i].num ? 'num' : '', c.cls || ''].join(' ').trim() || null, title: c.title });
            td.append(c.node || String(c.text ?? ''));
            return td;
          }),
        ),
      )
    : [el('tr', null, el('td', { class: 'empty', colspan: columns.length }, emptyText))];
  table.replaceChildren(el('thead', null, head), el('tbody', null, ...body));
}
