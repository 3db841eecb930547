/**
 * Functions the browser tests run inside the page (playwright serialises them: no closures, no imports). The test
 * project is type-checked without the DOM library, so the few DOM names they use are declared here, locally.
 */
interface DomElement {
  readonly attributes: ArrayLike<{ readonly name: string }> & Iterable<{ readonly name: string }>;
  readonly parentElement: DomElement | null;
  readonly textContent: string | null;
  readonly outerHTML: string;
  readonly labels?: ArrayLike<unknown> | null;
  getAttribute(name: string): string | null;
}
interface DomList extends ArrayLike<DomElement>, Iterable<DomElement> {}
declare const document: {
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): DomList;
  readonly activeElement: DomElement | null;
  readonly documentElement: { readonly scrollWidth: number };
};
declare const window: object;
interface DomStorage {
  readonly length: number;
  key(index: number): string | null;
}
declare const localStorage: DomStorage;
declare const sessionStorage: DomStorage;
declare function getComputedStyle(el: DomElement): {
  color: string;
  backgroundColor: string;
  outlineStyle: string;
  outlineWidth: string;
};

/** Traces an injected script or markup would leave. */
export function xssFindings(): { xss: unknown; images: number; withHandlers: number; scriptUrls: number } {
  return {
    xss: (window as { __xss?: unknown }).__xss,
    images: document.querySelectorAll('img').length,
    withHandlers: [...document.querySelectorAll('*')].filter((el) =>
      [...el.attributes].some((a) => a.name.startsWith('on')),
    ).length,
    scriptUrls: document.querySelectorAll('[href^="javascript:" i], [src^="javascript:" i]').length,
  };
}

/** Controls with no accessible name (no label, no aria-label, no text). */
export function unnamedControls(): string[] {
  return [...document.querySelectorAll('input, textarea, button, a')]
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent?.trim()))
    .map((el) => el.outerHTML);
}

export function focusedControl(): { text: string | null | undefined; outline: string; width: number } {
  const el = document.activeElement;
  if (el === null) return { text: undefined, outline: 'none', width: 0 };
  const style = getComputedStyle(el);
  return { text: el.textContent, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
}

export function focusedName(): string | null | undefined {
  return document.activeElement?.getAttribute('name');
}

/** The text colour of the first element matching each selector, and the first opaque background behind it. */
export function colourPairs(selectors: string[]): Array<{ selector: string; fg: string; bg: string }> {
  const opaque = (c: string): boolean => !/rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent';
  return selectors.flatMap((selector) => {
    const el = document.querySelector(selector);
    if (el === null) return [];
    let behind: DomElement | null = el;
    while (behind !== null && !opaque(getComputedStyle(behind).backgroundColor)) behind = behind.parentElement;
    return [
      {
        selector,
        fg: getComputedStyle(el).color,
        bg: behind === null ? 'rgb(255, 255, 255)' : getComputedStyle(behind).backgroundColor,
      },
    ];
  });
}

export function pageWidth(): number {
  return document.documentElement.scrollWidth;
}

/** The keys the page keeps in each web storage. */
export function storageKeys(): { local: string[]; session: string[] } {
  const keys = (storage: DomStorage): string[] =>
    Array.from({ length: storage.length }, (_, i) => storage.key(i) ?? '');
  return { local: keys(localStorage), session: keys(sessionStorage) };
}
