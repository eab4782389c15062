"""The public purchase portal: choosing and paying for a certificate (`purchase`), the page
after paying (`confirmation`), and the Stripe.js glue both run in the browser (`stripe_js`)."""
