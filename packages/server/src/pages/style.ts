/** The one stylesheet of the verification pages, served at /device/style.css (CSP: style-src 'self'). */
export const STYLESHEET = `*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;background:#f4f5f7}
main{max-width:32rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d8dce1;border-radius:8px}
h1{font-size:1.4rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1.1rem;border:1px solid #9aa3ad;border-radius:4px}
input[name=user_code]{font-family:ui-monospace,monospace;letter-spacing:.1em;text-transform:uppercase}
button{margin-top:1.25rem;margin-right:.5rem;padding:.5rem 1.25rem;font-size:1rem;border-radius:4px;border:1px solid #1f5fbf;background:#1f6feb;color:#fff;cursor:pointer}
a.button{display:inline-block;margin-top:.75rem;padding:.5rem 1.25rem;border-radius:4px;border:1px solid #1f5fbf;background:#1f6feb;color:#fff;text-decoration:none}
.providers{list-style:none;padding:0}
button.secondary{background:#fff;color:#b42318;border-color:#b42318}
.error{padding:.75rem;border-radius:4px;background:#fdecea;color:#8a1c12;border:1px solid #f5c2bd}
.warning{padding:.75rem;border-radius:4px;background:#fff8e1;border:1px solid #f0d58c}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
code,.code{font-family:ui-monospace,monospace;overflow-wrap:anywhere}
ul.codes{columns:2;font-family:ui-monospace,monospace}
.brand{display:flex;align-items:center;gap:.5rem;margin:0 0 1rem;font-weight:600;color:#4a5561}
.brand img{width:32px;height:32px;object-fit:contain}
.qr svg{display:block;width:200px;height:200px}
.qr{margin:1rem 0}figcaption{font-size:.85rem;color:#4a5561}
label.inline{display:inline;font-weight:400;margin:0}
table.passkeys{width:100%;border-collapse:collapse}table.passkeys td,table.passkeys th{text-align:left;padding:.25rem;border-bottom:1px solid #d8dce1}
small{color:#4a5561}
`;
