// The list of doors (/checkin/): the tablet forgets the guest lists of events no longer open.
import { available, keepRostersOf } from "./store.js";

const list = document.querySelector("[data-door-events]");
if (list && available) { keepRostersOf(JSON.parse(list.dataset.doorEvents)); }
