using System.CommandLine;
using System.Globalization;

namespace Courier.Cli.Telemetry;

/// <summary>
/// <c>--metrics-port</c>, <c>--metrics-host</c>, <c>--otlp</c> and <c>--trace-sample</c>, shared by <c>server</c>, <c>broker</c> and <c>worker</c>:
/// how a running <c>courier</c> exposes the Courier meter and activity source (docs/observability.md).
/// </summary>
internal static class TelemetryOptions
{
    /// <summary><c>--metrics-port *</c>: the kernel picks a free port, which the endpoint reports.</summary>
    public const int AnyPort = -1;

    public static Option<int?> MetricsPort() => new("--metrics-port")
    {
        Description = "Serve Prometheus metrics at http://HOST:PORT/metrics (* picks a free port, printed at start). Off by default.",
        HelpName = "PORT",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value.Trim() : "";
            if (text == "*")
            {
                return AnyPort;
            }

            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                result.AddError($"--metrics-port: '{text}' is not a port (1-65535, or * for any free one)");
                return null;
            }

            return port;
        },
    };

    public static Option<string> MetricsHost() => new("--metrics-host")
    {
        Description = "Interface the metrics endpoint listens on: 0.0.0.0 (the default, every interface: what a container needs to be scraped) or an address such as 127.0.0.1.",
        HelpName = "HOST",
        DefaultValueFactory = _ => "0.0.0.0",
        Validators =
        {
            result =>
            {
                var host = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "0.0.0.0";
                if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c is '/' or '?' or '#' or '@'))
                {
                    result.AddError($"--metrics-host: '{host}' is not a host name or address");
                }
            },
        },
    };

    public static Option<Uri?> Otlp() => new("--otlp")
    {
        Description = "Send traces and metrics by OTLP to ENDPOINT: gRPC (http://collector:4317), or HTTP/protobuf when the port is 4318 or the URL has a path (http://collector:4318).",
        HelpName = "ENDPOINT",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                result.AddError($"--otlp: '{text}' is not an http:// or https:// URL; write http://collector:4317");
                return null;
            }

            return uri;
        },
    };

    public static Option<double> TraceSample() => new("--trace-sample")
    {
        Description = "Share of the traces this process starts that it records and sends by --otlp, 0 to 1 (default 1: all). "
            + "A request that arrives with a sampled traceparent is recorded whatever this says.",
        HelpName = "RATIO",
        DefaultValueFactory = _ => 1.0,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value.Trim() : "";
            if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var ratio) || ratio is < 0 or > 1)
            {
                result.AddError($"--trace-sample: '{text}' is not a ratio from 0 to 1, such as 0.01");
                return 1.0;
            }

            return ratio;
        },
    };
}
