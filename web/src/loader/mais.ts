export const version = 1;
(window as unknown as { MAIS?: unknown }).MAIS = { version };
