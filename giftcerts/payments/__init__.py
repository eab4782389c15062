"""Card payments through Stripe (or localstripe in development and tests): the gateway and
the webhook endpoint. Business rules about what a payment does live in giftcerts.core.purchases."""
