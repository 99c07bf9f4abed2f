import { render } from "preact";

function App() {
  return <h1>Slipway</h1>;
}

render(<App />, document.getElementById("app")!);
