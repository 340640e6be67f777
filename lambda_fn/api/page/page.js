// The page for an agent: a form built from the API's own OpenAPI document, one call to
// POST v1/predict/explain, and the answer drawn as text, an SVG bar chart, a table and an SVG map.
// Every rule about a field lives in the API: the page shows the API's own problems next to each
// field and never blocks a submission itself. Every URL is relative: the page may sit below an
// API Gateway stage path (/prod/).
"use strict";

(() => {
  const KEY_STORAGE = "sound-realty-api-key";   // sessionStorage only: gone when the tab closes
  const SVG = "http://www.w3.org/2000/svg";

  // Words for people; the field list, its order, examples, ranges and notes come from the API.
  const FIELDS = {
    sqft_living: ["Living area (sq ft)", "Size"],
    sqft_above: ["Above ground (sq ft)", "Size"],
    sqft_basement: ["Basement (sq ft)", "Size"],
    sqft_lot: ["Lot size (sq ft)", "Size"],
    bedrooms: ["Bedrooms", "Rooms"],
    bathrooms: ["Bathrooms", "Rooms"],
    floors: ["Floors", "Rooms"],
    grade: ["Construction grade (7 = average)", "Quality and age"],
    condition: ["Condition (5 = very good)", "Quality and age"],
    view: ["View quality (0 = none)", "Quality and age"],
    waterfront: ["Waterfront (1 = yes, 0 = no)", "Quality and age"],
    yr_built: ["Year built", "Quality and age"],
    yr_renovated: ["Year renovated", "Quality and age"],
    zipcode: ["Zipcode", "Location"],
    lat: ["Latitude", "Location"],
    long: ["Longitude", "Location"],
    sqft_living15: ["Living area of the 15 nearest homes (sq ft, average)", "Neighbours"],
    sqft_lot15: ["Lot size of the 15 nearest homes (sq ft, average)", "Neighbours"],
  };
  const GROUP_ORDER = ["Size", "Rooms", "Quality and age", "Location", "Neighbours", "Other"];

  const $ = (id) => document.getElementById(id);
  let houseFields = [];   // [{name, type}] in the schema's order
  let lastAnswer = null;   // the answer shown, and the house it priced (charts redraw on resize)
  let lastHouse = null;

  // ---- The API, with its key when the deployment needs one ----------------------------------------

  let keyWaiters = [];

  function isKeyRefusal(status, body) {
    // API Gateway's own 403 ({"message": "Forbidden"}) or the service's gateway response naming the key.
    return status === 403 && !!body && (body.message === "Forbidden" || /API key/i.test(body.message || ""));
  }

  function askForKey(refused) {
    const form = $("key-form");
    $("key-why").textContent = refused
      ? "That API key was refused. Check it and enter it again; the page keeps it in this browser tab only."
      : "This deployment needs an API key. The page keeps it in this browser tab only.";
    form.hidden = false;
    $("form-status").textContent = "Waiting for the API key…";
    $("api-key").focus();
    return new Promise((resolve) => keyWaiters.push(resolve));
  }

  function keyEntered(event) {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) { $("api-key").focus(); return; }
    sessionStorage.setItem(KEY_STORAGE, key);
    $("api-key").value = "";
    $("key-form").hidden = true;
    const waiting = keyWaiters;
    keyWaiters = [];
    waiting.forEach((resolve) => resolve());
  }

  async function api(path, options = {}) {
    for (;;) {
      const key = sessionStorage.getItem(KEY_STORAGE);
      const headers = { Accept: "application/json", ...(options.headers || {}) };
      if (key) headers["x-api-key"] = key;
      const response = await fetch(path, { ...options, headers, credentials: "omit" });
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      if (!isKeyRefusal(response.status, body)) return { status: response.status, body };
      if (key) sessionStorage.removeItem(KEY_STORAGE);
      await askForKey(Boolean(key));
    }
  }

  // ---- The form, from the OpenAPI document ----------------------------------------------------------

  function number(value, name) {
    return name.startsWith("sqft") ? value.toLocaleString("en-US") : String(value);
  }

  function rangeOf(schema, name) {
    const low = schema.minimum ?? null;
    const above = schema.exclusiveMinimum ?? null;
    const high = schema.maximum ?? null;
    if (low !== null && high !== null) return `${number(low, name)} to ${number(high, name)}`;
    if (above !== null && high !== null) return `above ${number(above, name)}, up to ${number(high, name)}`;
    if (low !== null) return `${number(low, name)} or more`;
    if (above !== null) return `above ${number(above, name)}`;
    return high !== null ? `up to ${number(high, name)}` : "";
  }

  function element(tag, attributes = {}, text = "") {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text) node.textContent = text;
    return node;
  }

  function fieldBlock(name, schema) {
    const block = element("div", { class: "field" });
    const [label] = FIELDS[name] || [schema.title || name];
    block.append(element("label", { for: `field-${name}` }, label));
    const input = element("input", {
      id: `field-${name}`, name, type: "number", step: "any",
      inputmode: schema.type === "integer" ? "numeric" : "decimal",
      "aria-describedby": `hint-${name} problem-${name}`,
    });
    const example = (schema.examples || [])[0];
    if (example !== undefined) input.value = String(example);
    block.append(input);
    const hint = [rangeOf(schema, name), schema.description].filter(Boolean).join(" · ");
    block.append(element("p", { class: "hint", id: `hint-${name}` }, hint));
    block.append(element("p", { class: "problem", id: `problem-${name}` }));
    return block;
  }

  function buildHouseFields(house) {
    const groups = new Map(GROUP_ORDER.map((group) => [group, []]));
    houseFields = Object.entries(house.properties).map(([name, schema]) => ({ name, type: schema.type }));
    const byGroup = (name) => (FIELDS[name] ? FIELDS[name][1] : "Other");
    for (const group of GROUP_ORDER) {
      for (const [name, schema] of Object.entries(house.properties)) {
        if (byGroup(name) === group) groups.get(group).push(fieldBlock(name, schema));
      }
    }
    const holder = $("house-fields");
    holder.replaceChildren();
    for (const [group, blocks] of groups) {
      if (!blocks.length) continue;
      const fieldset = element("fieldset");
      fieldset.append(element("legend", {}, group));
      const grid = element("div", { class: "fields" });
      grid.append(...blocks);
      fieldset.append(grid);
      holder.append(fieldset);
    }
  }

  function fillModels(models) {
    const select = $("model");
    select.replaceChildren();
    for (const model of models.models) {
      const words = [model.name, model.default ? "(default)" : "", model.explains ? "" : "— prices only, no explanation"];
      const option = element("option", { value: model.name }, words.filter(Boolean).join(" "));
      option.selected = model.default;
      select.append(option);
    }
  }

  function parameterNote(openapi, name) {
    const operation = ((openapi.paths || {})["/v1/predict/explain"] || {}).post || {};
    const parameter = (operation.parameters || []).find((p) => p.name === name && p.in === "query");
    return parameter && parameter.description ? parameter.description : "";
  }

  async function loadForm() {
    const [openapi, models] = await Promise.all([api("v1/swagger?format=json"), api("v1/models")]);
    if (openapi.status !== 200 || models.status !== 200) {
      const failed = openapi.status !== 200 ? openapi : models;
      throw new Error((failed.body && failed.body.message) || `the API answered ${failed.status}`);
    }
    buildHouseFields(openapi.body.components.schemas.House);
    fillModels(models.body);
    $("hint-model").textContent = parameterNote(openapi.body, "model");
    $("hint-as_of").textContent = parameterNote(openapi.body, "as_of");
    $("form-status").textContent = "The form holds the first of the future examples: change any field and price it.";
    $("submit").disabled = false;
  }

  // ---- Submitting, and the API's problems next to each field -------------------------------------

  function houseBody() {
    const body = {};
    for (const { name } of houseFields) {
      const input = $(`field-${name}`);
      if (input.validity.badInput) body[name] = null;          // text that is no number: the API says so
      else if (input.value.trim() !== "") body[name] = Number(input.value);
      // an empty field is left out: the API names it as missing
    }
    return body;
  }

  function controlFor(field) {
    if (field === "model" || field === "as_of") return $(field);
    return houseFields.some((f) => f.name === field) ? $(`field-${field}`) : null;
  }

  function clearProblems() {
    for (const node of document.querySelectorAll(".problem")) { node.textContent = ""; node.classList.remove("warning"); }
    for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    $("form-problems").replaceChildren();
    $("form-problems").hidden = true;
  }

  function showProblems(details, message, asWarnings = false) {
    const general = [];
    const fields = [];
    for (const { field, problem } of details.length || !message ? details : [{ field: "", problem: message }]) {
      const control = controlFor(field);
      if (!control) { general.push(field && field !== "body" ? `${field}: ${problem}` : problem); continue; }
      const holder = $(`problem-${control.name}`);
      holder.textContent = holder.textContent ? `${holder.textContent} ${problem}` : problem;
      holder.classList.toggle("warning", asWarnings);
      if (!asWarnings) control.setAttribute("aria-invalid", "true");
      fields.push(control);
    }
    if (general.length) {
      const box = $("form-problems");
      const list = element("ul");
      for (const text of general) list.append(element("li", {}, text));
      box.replaceChildren(list);
      box.hidden = false;
    }
    return fields;
  }

  function labelOf(control) {
    const label = document.querySelector(`label[for="${control.id}"]`);
    return label ? label.textContent : control.name;
  }

  async function submitHouse(event) {
    event.preventDefault();
    const button = $("submit");
    button.disabled = true;
    button.textContent = "Pricing…";
    clearProblems();
    const query = new URLSearchParams({ model: $("model").value });
    if ($("as_of").value) query.set("as_of", $("as_of").value);
    const house = houseBody();
    try {
      const { status, body } = await api(`v1/predict/explain?${query}`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(house),
      });
      if (status === 200) {
        showResult(body, house);
        return;
      }
      $("result").hidden = true;
      lastAnswer = null;
      const details = (body && body.details) || [];
      const message = (body && body.message) || `The service answered ${status}.`;
      const fields = showProblems(details, message);
      const where = fields.length ? ` See ${[...new Set(fields.map(labelOf))].join(", ")}.` : "";
      $("form-status").textContent = `The house could not be priced.${where}`;
      (fields[0] || $("form-problems")).focus();   // the answer always names a field or a general problem
    } catch (error) {
      $("result").hidden = true;
      showProblems([], `The service could not be reached: ${error.message}`);
      $("form-status").textContent = "The house could not be priced.";
    } finally {
      button.disabled = false;
      button.textContent = "Price this house";
    }
  }

  // ---- The answer ---------------------------------------------------------------------------------

  let usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  const signed = (value) => (value < 0 ? `−${usd.format(-value)}` : `+${usd.format(value)}`);

  function showResult(answer, house) {
    lastAnswer = answer;
    lastHouse = house;
    usd = new Intl.NumberFormat("en-US", { style: "currency", currency: answer.currency, maximumFractionDigits: 0 });
    $("price").textContent = usd.format(answer.price);
    const range = answer.interval
      ? `${Math.round(answer.interval.coverage * 100)}% range: ${usd.format(answer.interval.low)} – ${usd.format(answer.interval.high)}`
      : "No range for this model.";
    $("range").textContent = range;
    $("price-basis").textContent = answer.price_basis;
    $("model-used").textContent = `Model ${answer.model.name}, version ${answer.model.version}.`;
    const warnings = $("warnings");
    warnings.replaceChildren(...answer.warnings.map((w) => element("li", {}, `${w.field}: ${w.problem}`)));
    warnings.hidden = !answer.warnings.length;
    if (answer.warnings.length) showProblems(answer.warnings, "", true);
    $("baseline").textContent = `The model starts from ${usd.format(answer.baseline)}, its price before any of this `
      + `house's features; each bar is how much one part of the house moved it. Together they make ${usd.format(answer.price)}.`;
    const month = answer.market_month || "the month asked";
    $("moved-header").textContent = `Price at ${month}`;
    $("comparables-note").textContent = `The ${answer.comparables.length} sales most like this house, most alike first, `
      + `each with its sale price moved to ${month} by the market index.`;
    fillComparables(answer.comparables);
    $("result").hidden = false;
    drawCharts();
    $("form-status").textContent = `Estimated price ${usd.format(answer.price)}. ${range}.`;
  }

  function fillComparables(sales) {
    const rows = sales.map((sale, i) => {
      const row = element("tr");
      const cells = [String(i + 1), sale.sale_date, usd.format(sale.sale_price), usd.format(sale.price_at_market_month),
        `${sale.distance_km.toFixed(2)} km`, String(sale.bedrooms), String(sale.bathrooms),
        sale.sqft_living.toLocaleString("en-US"), String(sale.grade), String(sale.yr_built), String(sale.zipcode)];
      cells.forEach((text, column) => row.append(element(column === 0 ? "th" : "td", column === 0 ? { scope: "row" } : {}, text)));
      return row;
    });
    $("comparables").tBodies[0].replaceChildren(...rows);
  }

  // ---- SVG drawing --------------------------------------------------------------------------------

  function svgNode(tag, attributes = {}, text = "") {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text) node.textContent = text;
    return node;
  }

  function canvas(svg, width, height) {
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
  }

  function textWidth(svg, texts, className) {
    // The widest of ``texts`` as this browser draws them (fonts differ between systems).
    const probe = svgNode("text", { class: className, x: 0, y: 0 });
    svg.append(probe);
    const widest = Math.max(0, ...texts.map((text) => { probe.textContent = text; return probe.getComputedTextLength(); }));
    probe.remove();
    return Math.ceil(widest);
  }

  function drawContributions(svg, contributions) {
    const width = Math.max(280, Math.floor(svg.parentElement.clientWidth));
    canvas(svg, width, 1);
    const names = textWidth(svg, contributions.map((c) => c.group), "name");
    const valueRoom = textWidth(svg, contributions.map((c) => signed(c.usd)), "value") + 8;   // beside a bar
    const narrow = width < names + 2 * valueRoom + 160;   // phones: each group's name above its bar
    const labelWidth = narrow ? 0 : names + 10;
    const row = narrow ? 40 : 28;
    const height = contributions.length * row + 8;
    canvas(svg, width, height);
    // A picture to the eye; to a screen reader, the same figures as one sentence.
    svg.setAttribute("aria-label", `What moved the price from the baseline: ${
      contributions.map((c) => `${c.group} ${signed(c.usd)}`).join("; ")}.`);
    const most = (sign) => Math.max(0, ...contributions.map((c) => sign * c.usd));
    const up = most(1);
    const down = most(-1);
    const left = labelWidth + (down > 0 ? valueRoom : 4);
    const right = width - (up > 0 ? valueRoom : 4);
    const scale = (right - left) / Math.max(up + down, 1);
    const zero = left + down * scale;
    contributions.forEach((c, i) => {
      const top = i * row + 4;
      const barTop = narrow ? top + 18 : top + 4;
      const barHeight = narrow ? 16 : row - 8;
      const group = svgNode("g", { class: `bar ${c.usd < 0 ? "down" : "up"}`, "data-group": c.group });
      group.append(svgNode("title", {}, `${c.group}: ${signed(c.usd)}`));
      group.append(svgNode("text", narrow ? { x: 0, y: top + 12, class: "name" } : {
        x: labelWidth - 8, y: barTop + barHeight / 2, "text-anchor": "end", "dominant-baseline": "middle", class: "name",
      }, c.group));
      const length = Math.max(Math.abs(c.usd) * scale, 1);
      const x = c.usd < 0 ? zero - length : zero;
      group.append(svgNode("rect", { x, y: barTop, width: length, height: barHeight, rx: 2 }));
      group.append(svgNode("text", {
        x: c.usd < 0 ? x - 4 : x + length + 4, y: barTop + barHeight / 2, "dominant-baseline": "middle",
        "text-anchor": c.usd < 0 ? "end" : "start", class: "value",
      }, signed(c.usd)));
      svg.append(group);
    });
    svg.append(svgNode("line", { x1: zero, x2: zero, y1: 0, y2: height, class: "axis" }));
  }

  function niceKm(span) {
    for (const step of [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50]) if (step >= span) return step;
    return 100;
  }

  function drawLocations(svg, house, sales) {
    const width = Math.max(280, Math.floor(svg.parentElement.clientWidth));
    const height = Math.round(Math.min(360, Math.max(240, width * 0.6)));
    canvas(svg, width, height);
    const points = [{ lat: house.lat, long: house.long }, ...sales];
    const lat0 = points.reduce((sum, p) => sum + p.lat, 0) / points.length;
    const kmPerDegreeLat = 111.32;
    const kmPerDegreeLong = kmPerDegreeLat * Math.cos((lat0 * Math.PI) / 180);
    const xs = points.map((p) => p.long * kmPerDegreeLong);
    const ys = points.map((p) => p.lat * kmPerDegreeLat);
    const pad = 44;
    const spanX = Math.max(Math.max(...xs) - Math.min(...xs), 0.2);
    const spanY = Math.max(Math.max(...ys) - Math.min(...ys), 0.2);
    const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad - 20) / spanY);   // px per km, north up
    const midX = (Math.max(...xs) + Math.min(...xs)) / 2;
    const midY = (Math.max(...ys) + Math.min(...ys)) / 2;
    const at = (p) => [width / 2 + (p.long * kmPerDegreeLong - midX) * scale,
      (height - 20) / 2 - (p.lat * kmPerDegreeLat - midY) * scale];
    svg.append(svgNode("rect", { x: 0.5, y: 0.5, width: width - 1, height: height - 1, class: "frame" }));
    const [hx, hy] = at(house);
    // A house sold twice, or sales a few metres apart: each mark is set beside the ones before it and
    // tied to its true place by a short line, rather than hiding another. Lines go under every mark.
    const placed = [[hx, hy]];
    const marks = sales.map((sale) => {
      const [trueX, trueY] = at(sale);
      let [x, y] = [trueX, trueY];
      for (let turn = 0; placed.some(([px, py]) => Math.hypot(px - x, py - y) < 22) && turn < 8; turn += 1) {
        x = trueX + 26 * Math.cos((turn * Math.PI) / 4 - Math.PI / 2);
        y = trueY + 26 * Math.sin((turn * Math.PI) / 4 - Math.PI / 2);
      }
      placed.push([x, y]);
      return { sale, trueX, trueY, x, y };
    });
    for (const { trueX, trueY, x, y } of marks) {
      svg.append(svgNode("line", { x1: hx, y1: hy, x2: trueX, y2: trueY, class: "tie" }));
      if (x !== trueX || y !== trueY) {
        svg.append(svgNode("line", { x1: trueX, y1: trueY, x2: x, y2: y, class: "leader" }));
        svg.append(svgNode("circle", { cx: trueX, cy: trueY, r: 2.5, class: "spot" }));
      }
    }
    marks.forEach(({ sale, x, y }, i) => {
      const point = svgNode("g", { class: "sale" });
      point.append(svgNode("title", {}, `Sale ${i + 1}: ${sale.distance_km.toFixed(2)} km, sold ${sale.sale_date}`));
      point.append(svgNode("circle", { cx: x, cy: y, r: 10 }));
      point.append(svgNode("text", { x, y, "text-anchor": "middle", "dominant-baseline": "central", class: "number" },
        String(i + 1)));
      const east = x < width - 90;
      point.append(svgNode("text", {
        x: east ? x + 14 : x - 14, y, "dominant-baseline": "central", "text-anchor": east ? "start" : "end",
        class: "distance",
      }, `${sale.distance_km.toFixed(2)} km`));
      svg.append(point);
    });
    const marker = svgNode("g", { class: "house" });
    marker.append(svgNode("title", {}, "The house priced"));
    marker.append(svgNode("rect", { x: hx - 8, y: hy - 8, width: 16, height: 16, transform: `rotate(45 ${hx} ${hy})` }));
    marker.append(svgNode("text", { x: hx, y: hy - 16, "text-anchor": "middle", class: "label" }, "this house"));
    svg.append(marker);
    const km = niceKm(Math.max(spanX, spanY) / 4);
    const barX = 12;
    const barY = height - 14;
    svg.append(svgNode("line", { x1: barX, x2: barX + km * scale, y1: barY, y2: barY, class: "scale" }));
    svg.append(svgNode("text", { x: barX + km * scale + 6, y: barY, "dominant-baseline": "middle", class: "label" },
      `${km} km`));
    svg.append(svgNode("text", { x: width - 12, y: 20, "text-anchor": "end", class: "label" }, "N ↑"));
  }

  function drawCharts() {
    if (!lastAnswer || $("result").hidden) return;
    drawContributions($("contributions"), lastAnswer.contributions);
    drawLocations($("locations"), lastHouse, lastAnswer.comparables);
  }

  // ---- Start --------------------------------------------------------------------------------------

  let resizing = 0;
  window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(drawCharts, 150); });
  $("key-form").addEventListener("submit", keyEntered);
  $("house-form").addEventListener("submit", submitHouse);
  loadForm().catch((error) => {
    $("form-status").textContent = `The form could not be loaded: ${error.message}`;
  });
})();
