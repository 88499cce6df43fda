/**
 * Tiny DOM builder. Text always goes in through textContent, never innerHTML, so strings from a
 * model or results file cannot become markup.
 */
type Child = Node | string | null | undefined | false;

export interface ElOptions {
  class?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string>;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: ElOptions = {},
  children: Child[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (options.class) node.className = options.class;
  if (options.text !== undefined) node.textContent = options.text;
  if (options.title !== undefined) node.title = options.title;
  for (const [k, v] of Object.entries(options.attrs ?? {})) node.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

export function button(label: string, onClick: () => void, options: ElOptions = {}): HTMLButtonElement {
  const b = el('button', { ...options, text: label, attrs: { type: 'button', ...(options.attrs ?? {}) } });
  b.addEventListener('click', onClick);
  return b;
}

export function select<T extends string | number>(
  label: string,
  options: { value: T; label: string }[],
  current: T | undefined,
  onChange: (value: T) => void,
): HTMLLabelElement {
  const s = el('select');
  options.forEach((o, i) => {
    const opt = el('option', { text: o.label, attrs: { value: String(i) } });
    if (o.value === current) opt.selected = true;
    s.append(opt);
  });
  s.addEventListener('change', () => onChange(options[Number(s.value)].value));
  return el('label', { class: 'picker' }, [el('span', { text: label }), s]);
}

export function clear(node: Element): void {
  node.replaceChildren();
}
