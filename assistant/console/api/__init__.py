"""The console's HTTP API: shared dependencies (`deps`), the routers by area (`routes`) and
request bodies more than one area uses (`schemas`); `assistant.console.app` assembles them."""
