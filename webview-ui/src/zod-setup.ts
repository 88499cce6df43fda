import { z } from 'zod';

// Under the webview's CSP `new Function` is refused; without this zod probes for it and the
// refusal shows up as a CSP violation report.
z.config({ jitless: true });
