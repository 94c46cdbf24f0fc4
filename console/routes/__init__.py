"""The console's pages, one module per area; each registers its views on ``console.pages.bp``."""
