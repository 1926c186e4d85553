"""POST /api/report: report a wrong semantic hit, which evicts that cache entry.

Vercel loads `app` (ASGI); AWS Lambda calls `lambda_handler` (Mangum). No logic lives here.
"""

import sys
from pathlib import Path

# The library ships beside this file (vercel.json includeFiles, serverless.yml package patterns).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from llmedge.deploy import function_app, lambda_handler_for

app = function_app("report")
lambda_handler = lambda_handler_for(app)
