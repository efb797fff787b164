// Lastmile page behaviour that htmx attributes cannot express. No inline scripts anywhere (CSP).
"use strict";
