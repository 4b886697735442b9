using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

/// <summary>
/// <c>--otlp</c> and <c>--trace-sample</c> as an operator runs them: a real broker and worker process exporting by
/// OTLP/HTTP to a collector that the test plays (an HTTP listener on loopback that keeps what it is sent).
/// </summary>
public sealed class OtlpExportTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Traces_and_metrics_of_a_broker_and_its_worker_reach_an_otlp_collector()
    {
        using var collector = Collector.Start();
        var service = $"otlp{Guid.NewGuid():N}"[..16];
        await using var stack = await Stack.StartAsync(collector, service, "--trace-sample", "1");

        // One trace per request across both processes: each sends its own spans, named by process and service.
        await Poll.UntilAsync(
            () => collector.Posts("/otlp/v1/traces").Any(body => body.Contains("courier-broker") && body.Contains(service))
                && collector.Posts("/otlp/v1/traces").Any(body => body.Contains("courier-worker") && body.Contains(service)),
            Wait,
            "the broker's and the worker's spans");
        await Poll.UntilAsync(
            () => collector.Posts("/otlp/v1/metrics").Any(body => body.Contains("courier-broker") && body.Contains("courier.broker.requests")),
            Wait,
            "the broker's request counter");
        Assert.All(collector.ContentTypes, type => Assert.Equal("application/x-protobuf", type));
    }

    [Fact]
    public async Task A_broker_sampling_no_trace_records_none_and_its_worker_follows_its_decision()
    {
        using var collector = Collector.Start();
        var service = $"otlp{Guid.NewGuid():N}"[..16];
        await using var stack = await Stack.StartAsync(collector, service, "--trace-sample", "0");

        // Its metrics prove the broker exports: two pushes (10 s apart) counting the requests leave the trace exporters,
        // which send every 5 s, time to have sent any span recorded. The worker samples all it starts, but these traces
        // started at the broker, which dropped them: the worker keeps that decision (parent-based), so the whole trace
        // is absent rather than a worker's half of it.
        await Poll.UntilAsync(
            () => collector.Posts("/otlp/v1/metrics").Count(body => body.Contains("courier-broker") && body.Contains("courier.broker.requests")) >= 2
                && collector.Posts("/otlp/v1/metrics").Any(body => body.Contains("courier-worker")),
            Wait,
            "two metric pushes from the broker, and the worker's exporter alive");
        Assert.DoesNotContain(collector.Posts("/otlp/v1/traces"), body => body.Contains(service));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("half")]
    public async Task A_trace_sample_outside_zero_to_one_is_refused_at_start_with_a_clear_message(string ratio)
    {
        var (exit, _, stderr) = await ChildProcess.RunAsync(Wait, "broker", "--bind", "tcp://127.0.0.1:*", "--otlp", "http://127.0.0.1:9/otlp", "--trace-sample", ratio);
        Assert.Equal(2, exit);
        Assert.Contains($"--trace-sample: '{ratio}' is not a ratio from 0 to 1", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trace_sample_without_otlp_is_refused_at_start_rather_than_ignored()
    {
        var (exit, _, stderr) = await ChildProcess.RunAsync(Wait, "worker", "--connect", "tcp://127.0.0.1:5555", "--trace-sample", "0.1");
        Assert.Equal(2, exit);
        Assert.Contains("--trace-sample: traces are sent only by --otlp", stderr, StringComparison.Ordinal);
    }

    /// <summary>A <c>courier broker</c> and a <c>courier worker</c> exporting to <c>collector</c>, after three requests.</summary>
    private sealed class Stack : IAsyncDisposable
    {
        private readonly ChildProcess _broker;
        private readonly ChildProcess _worker;

        private Stack(ChildProcess broker, ChildProcess worker) => (_broker, _worker) = (broker, worker);

        public static async Task<Stack> StartAsync(Collector collector, string service, params string[] brokerArgs)
        {
            var (broker, endpoint) = await ChildProcess.StartBrokerAsync(["--bind", "tcp://127.0.0.1:*", "--otlp", collector.Endpoint, .. brokerArgs]);
            var stack = new Stack(broker, ChildProcess.Start("worker", "--connect", endpoint, "--service", service, "--otlp", collector.Endpoint));
            await using (var client = TestServer.Client(endpoint))
            {
                await TestBroker.WaitForWorkersAsync(client, service, 1);
            }

            // From another process: a test elsewhere in this one may listen to Courier's spans, and a client span it
            // samples would make the broker record the trace whatever its own ratio (parent-based).
            for (var i = 0; i < 3; i++)
            {
                var (exit, stdout, stderr) = await ChildProcess.RunAsync(Wait, "request", "--connect", endpoint, "--service", service, "traced");
                Assert.True(exit == 0 && stdout.Contains("traced", StringComparison.Ordinal), $"exit {exit}: {stdout} {stderr}");
            }

            return stack;
        }

        public async ValueTask DisposeAsync()
        {
            await _worker.DisposeAsync();
            await _broker.DisposeAsync();
        }
    }

    /// <summary>An OTLP/HTTP collector's front: takes every POST under <c>/otlp/</c>, answers 200, keeps the bodies.</summary>
    private sealed class Collector : IDisposable
    {
        private readonly HttpListener _listener;
        private readonly ConcurrentQueue<(string Path, string Body)> _posts = new();
        private readonly ConcurrentQueue<string> _contentTypes = new();
        private readonly Task _serving;

        private Collector(HttpListener listener, string endpoint)
        {
            _listener = listener;
            Endpoint = endpoint;
            _serving = Task.Run(ServeAsync);
        }

        /// <summary>What <c>--otlp</c> is given: a URL with a path, so HTTP/protobuf, each signal under its own path.</summary>
        public string Endpoint { get; }

        public IEnumerable<string> ContentTypes => _contentTypes;

        /// <summary>
        /// The bodies posted to <paramref name="path"/>, read as Latin-1: protobuf carries strings (names, attributes) as
        /// their UTF-8 bytes, so an ASCII name is found in it as text.
        /// </summary>
        public IEnumerable<string> Posts(string path) => _posts.Where(p => p.Path == path).Select(p => p.Body);

        public static Collector Start()
        {
            for (var attempt = 0; ; attempt++)
            {
                var port = Random.Shared.Next(20_000, 32_000);
                var listener = new HttpListener();
                listener.Prefixes.Add($"http://127.0.0.1:{port}/otlp/");
                try
                {
                    listener.Start();
                    return new Collector(listener, $"http://127.0.0.1:{port}/otlp");
                }
                catch (HttpListenerException) when (attempt < 20)
                {
                    listener.Close();
                }
            }
        }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                try
                {
                    using var body = new MemoryStream();
                    await context.Request.InputStream.CopyToAsync(body);
                    _posts.Enqueue((context.Request.Url!.AbsolutePath, Encoding.Latin1.GetString(body.ToArray())));
                    _contentTypes.Enqueue(context.Request.ContentType ?? "");
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/x-protobuf";
                    context.Response.Close();
                }
                catch (Exception ex) when (ex is HttpListenerException or IOException)
                {
                    // An exporter that gave up on one post (a process stopping): the collector goes on with the next.
                }
            }
        }

        public void Dispose()
        {
            _listener.Close();
            _serving.Wait(TimeSpan.FromSeconds(10));
        }
    }
}
