// Members the UXP runtime provides (Adobe's UXP API reference: WebSocket events, timers,
// console) that @adobe/cc-ext-uxp-types 7.3.1 does not declare. Only what the plug-in uses.

interface WebSocket {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
}

declare function setTimeout(handler: () => void, timeout?: number): number;
declare function clearTimeout(handle?: number): void;
declare function setInterval(handler: () => void, timeout?: number): number;
declare function clearInterval(handle?: number): void;

declare var console: {
  log(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
};
