"""The Tight (formerly Hurdlr) sandbox: OAuth 2.0 bearer auth, v5 invoicing routes."""
