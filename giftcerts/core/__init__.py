"""Business rules of giftcerts. No UI imports: the dashboard, portal, widget, API,
CLI and jobs all call these functions, each inside one transaction."""
