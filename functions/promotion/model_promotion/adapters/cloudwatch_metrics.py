"""CloudWatch behind the OperationalMetrics port: what an operator's command counts, for the template's alarms."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..ports import OperationalMetrics
from .aws import AwsAdapter, error_code, is_transient, transient

# As Powertools Metrics publishes the functions' own: the template's alarms name this namespace and dimension.
NAMESPACE = "ModelPromotion"
SERVICE = "model-promotion"


class CloudWatchMetrics(AwsAdapter, OperationalMetrics):
    def count(self, name: str) -> None:
        try:
            self.client("cloudwatch").put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": "service", "Value": SERVICE}],
                        "Value": 1.0,
                        "Unit": "Count",
                    }
                ],
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("PutMetricData", exc) from exc
            raise ConfigurationError(f"PutMetricData refused: {error_code(exc)}") from exc
