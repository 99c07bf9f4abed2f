import { render } from "preact";
import { App } from "./app";
import { startRealtime } from "./api/realtime";
import "./styles.css";

startRealtime();
render(<App />, document.getElementById("app")!);
