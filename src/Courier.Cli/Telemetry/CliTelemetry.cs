using System.CommandLine;
using System.Net;
using Courier.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Courier.Cli.Telemetry;

/// <summary>
/// The OpenTelemetry SDK, set up for one <c>courier</c> process as its options ask: a Prometheus endpoint, an OTLP
/// exporter, both or neither. The library publishes through System.Diagnostics only; this is where it is exported.
/// </summary>
internal sealed class CliTelemetry : IDisposable
{
    private const int MaxPortTries = 50;
    private readonly MeterProvider? _meters;
    private readonly TracerProvider? _tracer;

    private CliTelemetry(MeterProvider? meters, TracerProvider? tracer, string? metricsUrl)
    {
        _meters = meters;
        _tracer = tracer;
        MetricsUrl = metricsUrl;
    }

    /// <summary>Where Prometheus scrapes, when served: <c>http://HOST:PORT/metrics</c>.</summary>
    public string? MetricsUrl { get; }

    public sealed record Options(Option<int?> Port, Option<string> Host, Option<Uri?> Otlp, Option<double> TraceSample)
    {
        public static Options Create() => new(TelemetryOptions.MetricsPort(), TelemetryOptions.MetricsHost(), TelemetryOptions.Otlp(), TelemetryOptions.TraceSample());

        public void AddTo(Command command)
        {
            command.Options.Add(Port);
            command.Options.Add(Host);
            command.Options.Add(Otlp);
            command.Options.Add(TraceSample);
            command.Validators.Add(result =>
            {
                // A ratio with nothing to send its traces to would be silently ignored.
                if (result.GetResult(TraceSample) is { Implicit: false } && result.GetResult(Otlp) is null)
                {
                    result.AddError("--trace-sample: traces are sent only by --otlp; give --otlp ENDPOINT too");
                }
            });
        }
    }

    /// <summary>Starts what <paramref name="options"/> ask for; <paramref name="serviceName"/> names this process in the exported data.</summary>
    public static CliTelemetry Start(ParseResult parse, Options options, string serviceName, string instance)
    {
        var port = parse.GetValue(options.Port);
        var host = parse.GetValue(options.Host)!;
        var otlp = parse.GetValue(options.Otlp);
        if (port is null && otlp is null)
        {
            return new CliTelemetry(null, null, null);
        }

        var resource = ResourceBuilder.CreateDefault().AddService(serviceName, serviceInstanceId: instance);
        TracerProvider? tracer = null;
        if (otlp is not null)
        {
            // Parent-based: a trace the caller chose to record stays whole across the hops; the ratio decides the rest.
            // Every request is a span at the broker and at its worker, so a busy process samples a share of them.
            tracer = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(resource)
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(parse.GetValue(options.TraceSample))))
                .AddSource(CourierDiagnostics.ActivitySourceName)
                .AddOtlpExporter(o => Configure(o, otlp, "v1/traces"))
                .Build();
        }

        if (port is not { } chosen)
        {
            return new CliTelemetry(Metrics(resource, otlp, null), tracer, null);
        }

        // * tries ports below the kernel's ephemeral range (where no outgoing connection or port-0 bind lands) until
        // one is free: the listener cannot report a port the kernel picked.
        var random = new Random();
        for (var attempt = 1; ; attempt++)
        {
            var tryPort = chosen == TelemetryOptions.AnyPort ? random.Next(20_000, 32_000) : chosen;
            var listen = host is "0.0.0.0" or "*" or "+" ? "*" : host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
            try
            {
                var meters = Metrics(resource, otlp, (listen, tryPort));
                var shown = listen == "*" ? "0.0.0.0" : listen;
                return new CliTelemetry(meters, tracer, $"http://{shown}:{tryPort}/metrics");
            }
            catch (Exception ex) when (ex is HttpListenerException or System.Net.Sockets.SocketException || ex.InnerException is HttpListenerException)
            {
                if (chosen != TelemetryOptions.AnyPort || attempt >= MaxPortTries)
                {
                    tracer?.Dispose();
                    throw new InvalidOperationException($"cannot serve metrics on {host}:{tryPort}: {ex.Message}", ex);
                }
            }
        }
    }

    public void Dispose()
    {
        _meters?.Dispose();
        _tracer?.Dispose();
    }

    private static MeterProvider Metrics(ResourceBuilder resource, Uri? otlp, (string Host, int Port)? prometheus)
    {
        var builder = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(CourierDiagnostics.MeterName)
            // The runtime's own meter (GC collections and pauses, bytes allocated, thread pool, lock contention): what
            // an operator reads beside Courier's counters to tell a slow handler from a process busy collecting.
            .AddMeter("System.Runtime");
        if (prometheus is { } listen)
        {
            builder.AddPrometheusHttpListener(o =>
            {
                // The exporter makes a URI of Host, which "*" (every interface, HttpListener's spelling) is not, and
                // HttpListener refuses 0.0.0.0: for every interface the listener's prefix is replaced before it starts.
                o.Host = listen.Host == "*" ? "localhost" : listen.Host;
                o.Port = listen.Port;
                o.ScrapeEndpointPath = "/metrics";
                if (listen.Host == "*")
                {
                    o.ConfigureHttpListener = (_, listener) =>
                    {
                        listener.Prefixes.Clear();
                        listener.Prefixes.Add($"http://*:{listen.Port}/metrics/");
                    };
                }
            });
        }

        if (otlp is not null)
        {
            builder.AddOtlpExporter((exporter, reader) =>
            {
                Configure(exporter, otlp, "v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 10_000;
            });
        }

        return builder.Build();
    }

    /// <summary>gRPC by default; HTTP/protobuf on port 4318 or with a path, where each signal has its own path.</summary>
    private static void Configure(OtlpExporterOptions options, Uri endpoint, string signalPath)
    {
        var http = endpoint.Port == 4318 || endpoint.AbsolutePath.Length > 1;
        options.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        options.Endpoint = http ? new Uri(endpoint, endpoint.AbsolutePath.TrimEnd('/') + "/" + signalPath) : endpoint;
        options.ExportProcessorType = ExportProcessorType.Batch;
    }
}
