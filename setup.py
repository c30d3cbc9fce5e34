"""owl-monitoring: the monitoring and SLA stack of OWL SYSTEMS."""

from setuptools import find_packages, setup

setup(
    name="owl-monitoring",
    version="0.1.0",
    description="Inventory-driven Prometheus monitoring, alert routing and SLA ledger "
    "for a managed-services provider",
    python_requires=">=3.11",
    packages=find_packages(include=["owl", "owl.*", "owl_commands", "exporters", "exporters.*",
                                    "sla_bridge", "sla_bridge.*",
                                    "alert_rules", "dashboards"]),
    package_data={
        "alert_rules": ["*.yml", "tests/*.yml"],
        "dashboards": ["*.json"],
        "exporters.catalogue": ["catalogue.json"],
        "sla_bridge": ["migrations/*.py", "migrations/script.py.mako", "migrations/versions/*.py",
                       "openapi.yml"],
        "sla_bridge.reports": ["templates/*.html", "templates/*.css"],
        "sla_bridge.web": ["templates/*.html", "static/*", "babel.cfg",
                           "translations/*/LC_MESSAGES/*.po", "translations/*/LC_MESSAGES/*.mo"],
    },
    # Every third-party module the shipped packages import, each declared directly (checked by
    # tests/test_dependencies.py); requirements.lock pins the deployed set (scripts/lock.sh).
    install_requires=[
        # `owl up`'s mail catcher for the demo
        "aiosmtpd>=1.4,<2",
        "alembic>=1.13,<2",
        "apscheduler>=3.10,<4",
        # the pages' dates, numbers and money in the reader's language
        "babel>=2.14,<3",
        # the probes' shared answers, bounded in time and size (exporters/probes/fetcher.py)
        "cachetools>=5.3,<7",
        # the tls probe's reading of the served certificate: signature hash, key type and size
        # (exporters/probes/tls.py); 42 and up still read SHA-1 and 1024-bit certificates
        "cryptography>=42,<51",
        "flask>=3.0,<4",
        # the pages' catalogue of texts (sla_bridge/web/translations)
        "flask-babel>=4.0,<5",
        # the pages' forms and their CSRF protection
        "flask-wtf>=1.2,<2",
        # `owl grafana sync`. 3.11 is the last line built on requests: from 4.0 on, grafana-client
        # depends on niquests, whose urllib3-future installs its own `urllib3` package over the
        # real one (checked: after installing grafana-client 4.3 or 5.1, `import urllib3` is
        # urllib3-future 2.25 while pip still lists urllib3 2.8), swapping the HTTP stack under
        # requests for the bridge, the exporter and the tests.
        "grafana-client>=3.11.2,<4",
        "holidays>=0.50,<1",
        # the monthly report's templates, shared by its HTML and its PDF (Flask's own engine)
        "jinja2>=3.1,<4",
        # failed sign-ins per address (the engine of Flask-Limiter, used directly)
        "limits>=3.13,<6",
        # the report's templates mark the charts' SVG as safe HTML (Jinja2's own)
        "markupsafe>=2.1,<4",
        # CMS and component versions compared as PEP 440 versions (exporters/versions.py)
        "packaging>=23,<27",
        "prometheus-client>=0.26,<1",  # sla_bridge.exposition: its escaping functions
        # `owl up`: which process holds a port it needs
        "psutil>=5.9,<8",
        "psycopg[binary]>=3.1,<4",
        # the monthly report's charts, as SVG (sla_bridge/reports/charts.py)
        "pygal>=3.0,<4",
        "pydantic>=2.6,<3",
        "pyyaml>=6,<7",
        "requests>=2.31,<3",
        "sqlalchemy>=2.0,<2.2",
        "urllib3>=2,<3",
        "waitress>=3.0,<4",
        # the monthly report as PDF; needs Pango from Debian (libpango-1.0-0, libpangoft2-1.0-0)
        "weasyprint>=62,<71",
        # the bridge's HTTP errors (Flask's own toolkit, imported directly)
        "werkzeug>=3.0,<4",
        "wtforms>=3.1,<4",
    ],
    extras_require={
        # `python -m dashboards.build`: the builds of grafana-foundation-sdk are numbered
        # EPOCH!GRAFANA_VERSION, and an unpinned install picks a Grafana 10.1 build; this range
        # holds the 11.6 build of that epoch only (Grafana 11.6, as docker-compose.yml runs).
        "dashboards": ["grafana-foundation-sdk>=1769699379!11.6.0,<1769699379!11.7"],
        "test": [
            # tests/test_databases_live.py: the exporter's web config holds bcrypt hashes
            "bcrypt>=4.1,<6",
            "deptry>=0.20,<1",
            "grafana-foundation-sdk>=1769699379!11.6.0,<1769699379!11.7",
            "hypothesis>=6.100,<7",
            "import-linter>=2.0,<3",
            "jsonschema>=4.21,<5",
            # tests/test_openapi.py: sla_bridge/openapi.yml is valid OpenAPI 3
            "openapi-spec-validator>=0.7,<1",
            "pytest>=8,<10",
            # scripts/test.sh runs the suite in two processes, a test file to each
            "pytest-xdist>=3.5,<4",
            # tests/test_api_fuzz.py (4.32 is the version checked here; the 4.x line has the
            # Config.from_dict, dictionaries and checks the test uses)
            "schemathesis>=4.32,<5",
            # the browser tests drive Debian's chromium through chromium-driver
            "selenium>=4.20,<5",
        ],
    },
    entry_points={"console_scripts": ["owl=owl_commands.cli:main"]},
)
