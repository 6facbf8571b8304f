/* global document -- the browser's (the lint's globals are Node's) */
/** The dashboard's entry: its styles, and the app rendered into the page's #app. */
import "./style.css";
import { h, render } from "preact";
import { App } from "./app.js";

const root = document.getElementById("app");
if (root !== null) {
  root.textContent = "";
  render(h(App, null), root);
}
