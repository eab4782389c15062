"""The portal's Stripe.js glue: scripts the server sends the browser to mount the card form,
turn the card into a token and run 3-D Secure. The card never reaches this server."""

from __future__ import annotations

import json

CARD_ELEMENT_ID = "gc-card-element"


def mount_card_js(js_url: str, publishable_key: str) -> str:
    """Load Stripe.js (once), then mount a card Element into the page's card box."""
    return """
(async function (jsUrl, key, hostId) {
  if (!window.Stripe) {
    await new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = jsUrl; s.onload = resolve;
      s.onerror = function () { reject(new Error("Stripe.js could not be loaded")); };
      document.head.appendChild(s);
    });
  }
  var host = null;
  for (var i = 0; i < 100 && !(host = document.getElementById(hostId)); i++) {
    await new Promise(function (r) { setTimeout(r, 50); });
  }
  if (!host) return false;
  if (!window.__gcStripe || window.__gcStripeKey !== key) {
    window.__gcStripe = Stripe(key); window.__gcStripeKey = key;
  }
  if (window.__gcCard) { try { window.__gcCard.destroy(); } catch (e) {} }
  host.innerHTML = "";
  window.__gcCard = window.__gcStripe.elements().create("card", {hidePostalCode: false});
  window.__gcCard.mount(host);
  return true;
})(%s, %s, %s)""" % (json.dumps(js_url), json.dumps(publishable_key), json.dumps(CARD_ELEMENT_ID))


TOKENIZE_JS = """
(async function () {
  try {
    if (!window.__gcStripe || !window.__gcCard) return {error: "The card form is still loading. Please try again."};
    var r = await window.__gcStripe.createToken(window.__gcCard);
    if (r.error) return {error: r.error.message || "Please check your card details."};
    return {token: r.token.id, card: r.token.card ? r.token.card.id : ""};
  } catch (e) {
    return {error: "Please enter your card details."};
  }
})()"""


def authenticate_js(client_secret: str) -> str:
    """3-D Secure: Stripe.js shows the card issuer's step, then we ask the server how it went."""
    return """
(async function (secret) {
  try {
    var r = await window.__gcStripe.confirmCardPayment(secret);
    if (r.error) return {error: r.error.message || "The card could not be authenticated."};
    return {status: r.paymentIntent ? r.paymentIntent.status : ""};
  } catch (e) {
    return {error: "The card could not be authenticated."};
  }
})(%s)""" % json.dumps(client_secret)
