// The leader's door for one activity, with or without network, the way pretixSCAN works:
// the phone keeps the activity's scanner kit (public key, signed-up residents, the window)
// and who is already in; online, every scan goes to the server; when a request fails for
// network reasons the door goes offline by itself, verifies codes on the phone, answers
// from its own state, and queues the scans with their `scanned_at`. The queue is uploaded
// as one batch (`/scans/batch`) when the network is back; the server's answers are the
// truth, and where they differ from what the door said offline the leader is shown. An
// upload that succeeds brings the door back online.
//
// Everything is kept in storage (wx.setStorageSync), so a reload loses no queued scan.
import { api, ApiError, newId } from "./api.js";
import { makeVerifier, readCode } from "./checkin_verify.js";
import { wx } from "./wx.js";

const BATCH = 500;  // the server's largest batch

function storageKey(activityId) { return `door:${activityId}`; }
const ms = (iso) => (iso ? Date.parse(iso) : null);

// SPEC §5's door rule on this phone's state: {in: first entry, out: last exit} in ms.
export function doorResult(direction, at, person) {
  const checkedIn = person?.in ?? null;
  const checkedOut = checkedIn !== null && person.out !== null && person.out >= checkedIn ? person.out : null;
  if (direction === "in") return checkedIn !== null && checkedIn <= at ? "already_in" : "ok";
  if (checkedIn === null || at < checkedIn) return "not_checked_in";
  if (checkedOut !== null && checkedOut >= at) return "already_out";
  return "ok";
}

export class Door {
  constructor(activityId, onChange = () => {}) {
    this.activityId = activityId;
    this.onChange = onChange;
    const saved = wx.getStorageSync(storageKey(activityId)) || {};
    this.kit = saved.kit || null;
    this.offsetMs = saved.offsetMs || 0;
    this.people = saved.people || {};
    this.queue = saved.queue || [];
    this.differences = saved.differences || [];
    this.online = this.queue.length === 0;
    this.uploading = false;
    this.lastError = null;
    this.verify = null;
  }

  save() {
    wx.setStorageSync(storageKey(this.activityId), {
      kit: this.kit, offsetMs: this.offsetMs, people: this.people, queue: this.queue,
      differences: this.differences,
    });
    this.onChange(this);
  }

  goOffline() {
    if (this.online) { this.online = false; this.save(); }
  }

  // The scanner kit and who is already in: what the door needs for the next outage.
  async refreshKit() {
    try {
      const asked = Date.now();
      const kit = await api.get(`/activities/${this.activityId}/scanner-kit`);
      // The server's clock, so that a scan's time is judged as the server would.
      this.offsetMs = ms(kit.generated_at) - Math.round((asked + Date.now()) / 2);
      this.kit = kit;
      this.verify = null;
      for (let page = 1; ; page += 1) {
        const rows = await api.get(`/activities/${this.activityId}/attendances`, { page, per_page: 100 });
        for (const a of rows.items) this.fold(a.user_id, ms(a.checked_in_at), ms(a.checked_out_at));
        if (page * rows.per_page >= rows.total) break;
      }
      this.save();
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.code === "network") this.goOffline();
      return false;
    }
  }

  now() { return Date.now() + this.offsetMs; }

  fold(userId, checkedIn, checkedOut) {
    const person = this.people[userId] || { in: null, out: null };
    if (checkedIn !== null) person.in = person.in === null ? checkedIn : Math.min(person.in, checkedIn);
    if (checkedOut !== null) person.out = person.out === null ? checkedOut : Math.max(person.out, checkedOut);
    this.people[userId] = person;
  }

  foldAnswer(answer) {
    const a = answer?.attendance;
    if (a) this.fold(a.user_id, ms(a.checked_in_at), ms(a.checked_out_at));
  }

  nameOf(userId) {
    return this.kit?.residents.find((r) => r.id === userId)?.display_name ?? null;
  }

  // One scan at the door: the server's answer, or the door's own when offline.
  async scan(code, direction) {
    const item = { code, direction, scan_id: newId() };
    if (this.online) {
      try {
        const answer = await api.post(`/activities/${this.activityId}/scans`, item);
        this.foldAnswer(answer);
        this.save();
        return { ...answer, offline: false };
      } catch (error) {
        if (!(error instanceof ApiError && error.code === "network")) throw error;
        this.goOffline();  // the same scan id: if the server did get it, it answers it once
      }
    }
    return this.scanOffline({ ...item, scanned_at: new Date(this.now()).toISOString() });
  }

  async scanOffline(item) {
    const answer = await this.judge(item);
    this.queue.push({ ...item, offline_result: answer.result, name: answer.resident?.display_name ?? null });
    this.save();
    return { ...answer, offline: true };
  }

  // The server's order of judgement (backend/checkin/scans.py): the code, its age at the
  // scan's time, the window, the right to attend, then the door state.
  async judge(item) {
    if (!this.kit) return { result: "unverified", resident: null };
    this.verify ??= await makeVerifier(this.kit.public_key);
    const at = ms(item.scanned_at);
    const read = await readCode(item.code, this.verify, at);
    const resident = read.userId ? { id: read.userId, display_name: this.nameOf(read.userId) } : null;
    if (read.result) return { result: read.result, resident };
    if (at < ms(this.kit.window_opens_at) || at > ms(this.kit.window_closes_at)) {
      return { result: "outside_window", resident };
    }
    // A walk-in may be of another community: only the upload can tell (a difference then).
    if (!resident.display_name && !this.kit.walk_ins_allowed) return { result: "not_signed_up", resident };
    const result = doorResult(item.direction, at, this.people[read.userId]);
    if (result === "ok") {
      this.fold(read.userId, item.direction === "in" ? at : null, item.direction === "out" ? at : null);
    }
    return { result, resident };
  }

  // Upload the queue as one batch (or probe the network when nothing waits); true once
  // the server has everything and the door is online again.
  async upload() {
    if (this.uploading) return false;
    this.uploading = true;
    try {
      while (this.queue.length) {
        const sent = this.queue.slice(0, BATCH);
        const scans = sent.map(({ code, direction, scan_id: id, scanned_at: at }) => ({ code, direction, scan_id: id, scanned_at: at }));
        try {
          this.settle(sent, (await api.post(`/activities/${this.activityId}/scans/batch`, { scans })).results);
        } catch (error) {
          const late = error instanceof ApiError && error.code === "upload_too_late"
            ? this.drop(sent, error.details.indexes || []) : 0;
          if (!late) {
            if (error instanceof ApiError && error.code === "network") this.goOffline();
            else { this.lastError = error; this.onChange(this); }
            return false;
          }
        }
      }
      const back = await this.refreshKit();
      if (back) { this.online = true; this.lastError = null; this.save(); }
      return back;
    } finally {
      this.uploading = false;
    }
  }

  // Scans older than the server keeps (LINLI_OFFLINE_UPLOAD_MAX_H) cannot count any more.
  drop(sent, indexes) {
    const late = new Set(indexes.map((i) => sent[i]?.scan_id));
    for (const item of sent.filter((s) => late.has(s.scan_id))) {
      this.differences.push({ scan_id: item.scan_id, scanned_at: item.scanned_at, direction: item.direction,
        name: item.name, offline: item.offline_result, server: "upload_too_late" });
    }
    const before = this.queue.length;
    this.queue = this.queue.filter((s) => !late.has(s.scan_id));
    this.save();
    return before - this.queue.length;
  }

  // The server's answers replace the door's: note where they differ, keep what they say.
  settle(sent, answers) {
    sent.forEach((item, i) => {
      const answer = answers[i];
      this.foldAnswer(answer);
      if (answer.result !== item.offline_result) {
        this.differences.push({
          scan_id: item.scan_id, scanned_at: item.scanned_at, direction: item.direction,
          name: answer.resident?.display_name || item.name, offline: item.offline_result,
          server: answer.result,
        });
      }
    });
    const done = new Set(sent.map((s) => s.scan_id));
    this.queue = this.queue.filter((s) => !done.has(s.scan_id));
    this.save();
  }

  clearDifferences() { this.differences = []; this.save(); }
}
