// Viper Studio's page: one client of the JSON API (README "viper studio"). No dependencies, no build step.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { images: [], picked: new Map(), likes: [], dislikes: [], recommended: 8, extractJob: null, generateJob: null };

function showError(message) {
  $('message-text').textContent = message;
  $('message').hidden = false;
}
$('message-close').onclick = () => { $('message').hidden = true; };

// Every API call: JSON in and out; a refusal ({"error": …}) becomes a message on the page.
async function api(url, options = {}) {
  const response = await fetch(url, options);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) {
    throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  }
  return body;
}
const json = (method, body) => ({ method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}

// 1. Images, picks and comments.
function renderGrid() {
  const grid = $('grid');
  grid.replaceChildren(...state.images.map((image) => {
    const figure = el('figure', { className: state.picked.has(image.id) ? 'picked' : '', title: image.label },
      el('img', { src: image.url, alt: image.label, loading: 'lazy' }), el('figcaption', { textContent: image.label }));
    figure.dataset.id = image.id;
    figure.onclick = () => togglePick(image);
    return figure;
  }));
}

function togglePick(image) {
  if (state.picked.has(image.id)) state.picked.delete(image.id);
  else state.picked.set(image.id, { image, comment: '', mark: '' });
  renderGrid();
  renderPicked();
}

function renderPicked() {
  $('picked').replaceChildren(...[...state.picked.values()].map((pick) => {
    const comment = el('textarea', { value: pick.comment, placeholder: `What do you like or dislike about ${pick.image.label}?` });
    comment.oninput = () => { pick.comment = comment.value; renderCount(); };
    const mark = el('select', {}, el('option', { value: '', textContent: 'not marked' }),
      el('option', { value: 'liked', textContent: 'liked' }), el('option', { value: 'disliked', textContent: 'disliked' }));
    mark.value = pick.mark;
    mark.onchange = () => { pick.mark = mark.value; };
    const card = el('div', { className: 'card' }, el('img', { src: pick.image.url, alt: pick.image.label }), comment, mark);
    card.dataset.id = pick.image.id;
    return card;
  }));
  renderCount();
}

function renderCount() {
  const n = [...state.picked.values()].filter((p) => p.comment.trim()).length;
  $('comment-count').textContent = `${n} comment${n === 1 ? '' : 's'} — the ViPer paper found about ${state.recommended} enough.`;
}

async function loadImages() {
  state.images = (await api('/api/images')).images;
  renderGrid();
}

$('upload').onchange = async () => {
  const form = new FormData();
  for (const file of $('upload').files) form.append('files', file, file.name);
  $('upload').value = '';
  try {
    await api('/api/images', { method: 'POST', body: form });
    await loadImages();
  } catch (e) { showError(e.message); }
};

// Jobs: queued on the server, followed through server-sent events until they end.
async function follow(url, body, handlers) {
  const job = await api(url, json('POST', body));
  const events = new EventSource(`/api/jobs/${job.id}/events`);
  for (const type of ['queued', 'progress', 'text', 'preview', 'image', 'result']) {
    events.addEventListener(type, (e) => handlers[type] && handlers[type](JSON.parse(e.data)));
  }
  events.addEventListener('error', (e) => {
    if (!e.data) return; // the connection itself (the browser reconnects); a job's error carries data
    const error = JSON.parse(e.data);
    showError(error.text ? `${error.message}\n\nThe extractor wrote: ${error.text}` : error.message);
  });
  events.addEventListener('state', (e) => {
    const s = JSON.parse(e.data).state;
    if (['done', 'failed', 'cancelled'].includes(s)) { events.close(); handlers.end(s); }
  });
  return job.id;
}

const percent = (d) => `${Math.floor((100 * d.step) / (d.total || 1))}%`;
const queued = (status) => (d) => { status.textContent = d.position === 0 ? 'starting…' : `waiting: ${d.position} job(s) ahead`; };

// 2. Extraction and the preference chips.
$('extract').onclick = async () => {
  const items = [...state.picked.values()].filter((p) => p.comment.trim()).map((p) => ({ image: p.image.id, comment: p.comment }));
  if (items.length === 0) { showError('Pick at least one image and comment on it first.'); return; }
  $('extract-text').textContent = '';
  $('extract').disabled = true;
  $('extract-cancel').hidden = false;
  const status = $('extract-status');
  try {
    state.extractJob = await follow('/api/extract', { items }, {
      queued: queued(status),
      progress: (d) => { status.textContent = d.stage === 'load' ? `loading the extractor… ${percent(d)}` : ''; },
      text: (d) => { $('extract-text').textContent += d.text; status.textContent = `extracting… ${d.tokens} tokens`; },
      result: (d) => { state.likes = d.likes; state.dislikes = d.dislikes; renderChips(); },
      end: (s) => { status.textContent = s === 'done' ? 'extracted and saved' : s; $('extract').disabled = false; $('extract-cancel').hidden = true; refreshResident(); },
    });
  } catch (e) { showError(e.message); $('extract').disabled = false; $('extract-cancel').hidden = true; }
};
$('extract-cancel').onclick = () => cancel(state.extractJob);

async function cancel(id) {
  if (!id) return;
  try { await api(`/api/jobs/${id}/cancel`, { method: 'POST' }); } catch (e) { showError(e.message); }
}

function renderChips() {
  for (const side of ['likes', 'dislikes']) {
    const other = side === 'likes' ? 'dislikes' : 'likes';
    $(side).replaceChildren(...state[side].map((text, i) => {
      const move = el('button', { textContent: '⇄', title: `move to ${other}`, className: 'move' });
      move.onclick = () => { state[side].splice(i, 1); state[other].push(text); changed(); };
      const remove = el('button', { textContent: '×', title: 'remove', className: 'remove' });
      remove.onclick = () => { state[side].splice(i, 1); changed(); };
      return el('li', {}, el('span', { textContent: text }), move, remove);
    }));
  }
}

function addChip(input, side) {
  input.onkeydown = (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    const text = input.value.trim().replaceAll(',', ' ');
    if (text && !state[side].includes(text)) { state[side].push(text); changed(); }
    input.value = '';
  };
}
addChip($('add-like'), 'likes');
addChip($('add-dislike'), 'dislikes');

async function changed() {
  renderChips();
  try {
    await api('/api/preferences', json('PUT', { likes: state.likes, dislikes: state.dislikes }));
    $('prefs-status').textContent = 'saved';
  } catch (e) { showError(e.message); }
}

$('load-prefs').onchange = async () => {
  const file = $('load-prefs').files[0];
  $('load-prefs').value = '';
  try {
    const body = JSON.parse(await file.text());
    const saved = await api('/api/preferences', json('PUT', { likes: body.likes || [], dislikes: body.dislikes || [] }));
    state.likes = saved.likes; state.dislikes = saved.dislikes;
    renderChips();
    $('prefs-status').textContent = `loaded ${file.name}`;
  } catch (e) { showError(e.message); }
};

// 3. Generation: both images, live preview, scores.
$('generate').onclick = async () => {
  const number = (id) => ($(id).value === '' ? null : Number($(id).value));
  const marked = (mark) => [...state.picked.values()].filter((p) => p.mark === mark).map((p) => p.image.id);
  const body = {
    prompt: $('prompt').value, seed: number('seed') ?? 0, width: number('width'), height: number('height'), steps: number('steps') ?? 30,
    beta: number('beta') ?? 0.85, guidance: number('guidance') ?? 5,
    preference: { likes: state.likes, dislikes: state.dislikes }, liked: marked('liked'), disliked: marked('disliked'),
    loras: [...document.querySelectorAll('#loras input[type=checkbox]:checked')]
      .map((box) => ({ name: box.dataset.lora, weight: Number(box.parentElement.querySelector('input[type=number]').value) })),
  };
  for (const side of ['personalized', 'plain']) {
    const figure = $(`result-${side}`);
    figure.querySelector('img').hidden = true;
    figure.querySelector('.score').textContent = '';
  }
  $('score-note').textContent = '';
  $('generate').disabled = true;
  $('generate-cancel').hidden = false;
  const status = $('generate-status');
  const progress = $('generate-progress');
  try {
    state.generateJob = await follow('/api/generate', body, {
      queued: queued(status),
      progress: (d) => {
        status.textContent = d.stage === 'load' ? `${d.image}: loading the model… ${percent(d)}` : `${d.image}: ${d.stage} ${d.step}/${d.total}`;
        progress.max = d.total || 1; progress.value = d.step;
      },
      preview: (d) => { if (d.png) { $('preview').src = d.png; $('preview').hidden = false; } }, // a replayed old step has no picture
      image: (d) => { const img = $(`result-${d.image}`).querySelector('img'); img.src = d.stored.url; img.hidden = false; },
      result: (d) => {
        for (const side of ['personalized', 'plain']) {
          if (d[side].score !== null) $(`result-${side}`).querySelector('.score').textContent = `score ${d[side].score.toFixed(3)}`;
        }
        $('score-note').textContent = d.scoreNote || `scored against ${d.pairs} liked/disliked pair(s)`;
        loadImages();
      },
      end: (s) => { status.textContent = s === 'done' ? 'done' : s; $('generate').disabled = false; $('generate-cancel').hidden = true; refreshResident(); },
    });
  } catch (e) { showError(e.message); $('generate').disabled = false; $('generate-cancel').hidden = true; }
};
$('generate-cancel').onclick = () => cancel(state.generateJob);

// What each device holds now (models stay resident while they fit; refreshed after every job).
const mib = (bytes) => `${(bytes / 1048576).toFixed(0)} MiB`;
function showResident(status) {
  $('resident').textContent = status.devices.map((d) =>
    `${d.device}: ${d.resident.length === 0 ? 'nothing loaded' : d.resident.map((r) => `${r.kind} (${mib(r.weightBytes + r.runBytes)})`).join(', ')}`).join(' · ');
}
async function refreshResident() {
  try { showResident(await api('/api/status')); } catch (e) { showError(e.message); }
}

// Start: models, images, saved preferences.
(async () => {
  try {
    const status = await api('/api/status');
    state.recommended = status.recommendedComments;
    $('models').textContent = `generator: ${status.generator ?? 'none'} · extractor: ${status.extractor ?? 'none'} · metric: ${status.metric ?? 'none'}`;
    showResident(status);
    if (status.defaultSize) { $('width').value = status.defaultSize; $('height').value = status.defaultSize; $('width').step = status.sizeMultiple; $('height').step = status.sizeMultiple; }
    for (const [field, range] of Object.entries(status.limits)) {
      for (const input of field === 'size' ? ['width', 'height'] : [field]) { $(input).min = range.min; $(input).max = range.max; }
    }
    const loras = (await api('/api/loras')).loras;
    $('loras').hidden = loras.length === 0;
    for (const name of loras) {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox'; box.dataset.lora = name;
      const weight = document.createElement('input');
      weight.type = 'number'; weight.min = -10; weight.max = 10; weight.step = 0.05; weight.value = 1;
      label.append(box, ` ${name} `, weight);
      $('loras').append(label);
    }
    const prefs = await api('/api/preferences');
    state.likes = prefs.likes; state.dislikes = prefs.dislikes;
    renderChips();
    renderCount();
    await loadImages();
  } catch (e) { showError(e.message); }
})();
