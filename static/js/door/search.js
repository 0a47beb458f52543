// The door's search over the tablet's guest list, online or not: the rules of the server's one
// search box (models/customers/reads.py search_clause, checkin.find_at_door) on what the list
// holds. Its phones are masked (138****8000): where a digit the tablet cannot see would decide,
// it shows every guest the digits it can see allow. tests/data/door_search_cases.json holds the
// server and this module to the same cases.

// As many matches as the server's find_at_door shows.
export const LIMIT = 12;
// What a card's QR code holds.
export const CARD = /^[A-Za-z0-9_-]{24,40}$/;

// The guest whose card carries `code` (as the server reads a code: 40 characters at most).
export function byCode(guests, code) {
  code = code.slice(0, 40);
  return guests.find((guest) => guest.code === code) || null;
}

// The guests `text` finds, in the list's order: a card's code; 11 or more digits, a mobile (the
// last 11; either of the guest's phones); 4 to 10, the end of the mobile; 1 to 3, the customer
// number; letters, initials or pinyin from their start; anything else, any part of the name.
export function search(guests, text, limit = LIMIT) {
  text = text.trim();
  if (!text) { return []; }
  const card = byCode(guests, text);
  if (card) { return [card]; }
  let digits = text.replace(/[\s-]/g, "");
  if (digits.startsWith("+86")) { digits = digits.slice(3); }
  const letters = text.toLowerCase().replace(/ /g, "");
  let test;
  if (/^[0-9]+$/.test(digits)) {
    if (digits.length >= 11) {
      const mobile = digits.slice(-11);
      test = (g) => (g.phone.length === 11 && fits(g.phone, mobile)) ||
        (g.phone2 !== undefined && g.phone2.length === 11 && fits(g.phone2, mobile));
    } else if (digits.length >= 4) {
      test = (g) => fits(g.phone, digits);
    } else {
      const number = Number(digits);
      test = (g) => g.customer_id === number;
    }
  } else if (/^[a-z]+$/.test(letters)) {
    test = (g) => g.initials.startsWith(letters) || g.pinyin.startsWith(letters);
  } else {
    test = (g) => g.name.includes(text);
  }
  return guests.filter(test).slice(0, limit);
}

// Does a masked phone (138****8000) end in `digits`, as far as the digits it shows tell?
function fits(masked, digits) {
  const start = masked.length - digits.length;
  if (start < 0) { return false; }
  for (let i = 0; i < digits.length; i += 1) {
    const shown = masked[start + i];
    if (shown !== "*" && shown !== digits[i]) { return false; }
  }
  return true;
}
