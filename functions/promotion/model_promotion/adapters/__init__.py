"""boto3 implementations of the ports. Each turns ClientError into a domain error or TransientAwsError."""
