// The dashboards of tenant admins and the platform admin (served at /admin/ by the gateway).
import { render } from "preact";

function Admin() {
  return (
    <main>
      <h1>MAIS admin</h1>
      <p>The dashboards are being built.</p>
    </main>
  );
}

render(<Admin />, document.getElementById("admin")!);
