"""owl-monitoring: the monitoring and SLA stack of OWL SYSTEMS."""

from setuptools import find_packages, setup

setup(
    name="owl-monitoring",
    version="0.1.0",
    description="Inventory-driven Prometheus monitoring, alert routing and SLA ledger "
    "for a managed-services provider",
    python_requires=">=3.11",
    packages=find_packages(include=["owl", "owl.*", "exporters", "exporters.*",
                                    "sla_bridge", "sla_bridge.*",
                                    "alert_rules", "dashboards"]),
    package_data={
        "alert_rules": ["*.yml", "tests/*.yml"],
        "dashboards": ["*.json"],
        "exporters.catalogue": ["catalogue.json"],
        "sla_bridge": ["migrations/*.py", "migrations/versions/*.py", "openapi.yml"],
    },
    install_requires=[
        "alembic>=1.13,<2",
        "apscheduler>=3.10,<4",
        "flask>=3.0,<4",
        "holidays>=0.50,<1",
        "prometheus-client>=0.20,<1",
        "psycopg[binary]>=3.1,<4",
        "pydantic>=2.6,<3",
        "pyyaml>=6,<7",
        "requests>=2.31,<3",
        "sqlalchemy>=2.0,<2.2",
        "urllib3>=2,<3",
        "waitress>=3.0,<4",
    ],
    extras_require={
        "test": [
            "aiosmtpd>=1.4,<2",
            "hypothesis>=6.100,<7",
            "pytest>=8,<10",
        ],
    },
    entry_points={"console_scripts": ["owl=owl.cli:main"]},
)
