using System.CommandLine;
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
internal sealed class CliTelemetry : IAsyncDisposable
{
    private readonly MeterProvider? _meters;
    private readonly TracerProvider? _tracer;
    private readonly MetricsEndpoint? _endpoint;

    private CliTelemetry(MeterProvider? meters, TracerProvider? tracer, MetricsEndpoint? endpoint)
    {
        _meters = meters;
        _tracer = tracer;
        _endpoint = endpoint;
    }

    /// <summary>Where Prometheus scrapes, when served: <c>http://HOST:PORT/metrics</c>.</summary>
    public string? MetricsUrl => _endpoint?.Url;

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
    public static async Task<CliTelemetry> StartAsync(ParseResult parse, Options options, string serviceName, string instance, CancellationToken cancellationToken = default)
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

        var meters = Metrics(resource, otlp, prometheus: port is not null);
        if (port is not { } chosen)
        {
            return new CliTelemetry(meters, tracer, null);
        }

        try
        {
            var endpoint = await MetricsEndpoint.StartAsync(meters, host, chosen == TelemetryOptions.AnyPort ? 0 : chosen, cancellationToken).ConfigureAwait(false);
            return new CliTelemetry(meters, tracer, endpoint);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException || ex.InnerException is System.Net.Sockets.SocketException)
        {
            meters.Dispose();
            tracer?.Dispose();
            var shown = chosen == TelemetryOptions.AnyPort ? "*" : chosen.ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw new InvalidOperationException($"cannot serve metrics on {host}:{shown}: {ex.Message}", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_endpoint is not null)
            {
                await _endpoint.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            // The exporters' last flush (OTLP) whatever the endpoint's stop did.
            _meters?.Dispose();
            _tracer?.Dispose();
        }
    }

    private static MeterProvider Metrics(ResourceBuilder resource, Uri? otlp, bool prometheus)
    {
        var builder = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(CourierDiagnostics.MeterName)
            // The runtime's own meter (GC collections and pauses, bytes allocated, thread pool, lock contention): what
            // an operator reads beside Courier's counters to tell a slow handler from a process busy collecting.
            .AddMeter("System.Runtime");
        if (prometheus)
        {
            // Kestrel's own meter beside them: kestrel_rejected_connections_total counts the metrics endpoint's
            // connections refused past its limit, which are not logged.
            builder.AddMeter("Microsoft.AspNetCore.Server.Kestrel").AddPrometheusExporter();
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
