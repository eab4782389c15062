"""The redemption widget a booking site embeds at checkout (`redeem`) and the stand-in booking
page that embeds it (`demo_checkout`)."""
