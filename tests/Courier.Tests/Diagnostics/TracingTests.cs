using System.Diagnostics;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Courier.Tests.Diagnostics;

/// <summary>
/// The Courier activity source, read by a real ActivityListener, and W3C trace context in request headers. The tests of
/// this class run one at a time, and apart from every other test: one of them asserts what happens with no listener
/// attached to the source, and a listener makes every broker and client of the process add a <c>traceparent</c> (a
/// header test running alongside once saw it in its worker's headers).
/// </summary>
[Collection(ActivityListenerTests.Name)]
public sealed class TracingTests(ITestOutputHelper output)
{
    private static readonly CourierHandler Echo = (request, _) => ValueTask.FromResult(request.Frames);
    [Fact]
    public async Task A_request_makes_a_client_span_under_the_callers_activity_and_a_server_span_the_handler_runs_in()
    {
        using var spans = new SpanRecorder();
        var service = $"traced-{Guid.NewGuid():N}"[..20];
        Activity? seenByHandler = null;
        await using var server = await TestServer.StartAsync(map: s => s.Map(service, (request, _) =>
        {
            seenByHandler = Activity.Current;
            return ValueTask.FromResult(CourierBody.Text("ok"));
        }));
        await using var client = TestServer.Client(server.Endpoint!);

        using var caller = new ActivitySource("test-caller");
        using var callerListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "test-caller",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(callerListener);
        using (var operation = caller.StartActivity("operation"))
        {
            await client.RequestAsync(service, "x");
            Assert.Same(operation, Activity.Current); // the client's span did not become the caller's current one
        }

        await Poll.UntilAsync(() => spans.Of(service).Count == 2, TimeSpan.FromSeconds(30), "client and server spans stopped");
        var clientSpan = spans.Of(service).Single(a => a.Kind == ActivityKind.Client);
        var serverSpan = spans.Of(service).Single(a => a.Kind == ActivityKind.Server);
        Assert.Equal("operation", clientSpan.Parent?.DisplayName);
        Assert.Equal(("courier", service, "200"), (clientSpan.GetTagItem("rpc.system.name"), clientSpan.GetTagItem("rpc.method"), clientSpan.GetTagItem("rpc.response.status_code")));
        Assert.Same(serverSpan, seenByHandler);
        Assert.Equal("server", serverSpan.GetTagItem("courier.role"));
        Assert.Equal(ActivityStatusCode.Unset, serverSpan.Status);
    }

    [Fact]
    public async Task A_failed_request_ends_its_client_span_as_an_error()
    {
        using var spans = new SpanRecorder();
        var service = $"failing-{Guid.NewGuid():N}"[..20];
        await using var server = await TestServer.StartAsync(map: s => s.Map(service, (_, _) => throw new InvalidOperationException("no")));
        await using var client = TestServer.Client(server.Endpoint!);

        await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync(service, "x"));

        await Poll.UntilAsync(() => spans.Of(service).Count == 2, TimeSpan.FromSeconds(30), "both spans stopped");
        Assert.All(spans.Of(service), span => Assert.Equal((ActivityStatusCode.Error, "500"), (span.Status, span.GetTagItem("error.type"))));
    }

    [Fact]
    public async Task One_trace_runs_from_the_client_span_through_the_broker_span_to_the_worker_span()
    {
        using var spans = new SpanRecorder();
        var service = $"chain-{Guid.NewGuid():N}"[..20];
        string? seenByWorker = null;
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "traced-worker", service: service, handler: (request, _) =>
        {
            seenByWorker = request.Headers["traceparent"];
            return ValueTask.FromResult(CourierBody.Text("ok"));
        });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(10) });

        await client.RequestAsync(service, "x");

        await Poll.UntilAsync(() => spans.Of(service).Count == 3, TimeSpan.FromSeconds(30), "client, broker and worker spans stopped");
        var clientSpan = spans.Of(service).Single(a => a.Kind == ActivityKind.Client);
        var brokerSpan = spans.Of(service).Single(a => Equals(a.GetTagItem("courier.role"), "broker"));
        var workerSpan = spans.Of(service).Single(a => Equals(a.GetTagItem("courier.role"), "worker"));
        Assert.Equal([clientSpan.TraceId, clientSpan.TraceId], new[] { brokerSpan.TraceId, workerSpan.TraceId });
        Assert.Equal(clientSpan.SpanId, brokerSpan.ParentSpanId);
        Assert.Equal(brokerSpan.SpanId, workerSpan.ParentSpanId);
        Assert.True(brokerSpan.HasRemoteParent && workerSpan.HasRemoteParent, "broker and worker spans have remote parents");
        Assert.Equal(brokerSpan.Id, seenByWorker); // the worker was told the broker's span, not the client's
        Assert.Contains(brokerSpan.Events, e => e.Name == "dispatched");
        Assert.Equal(ActivityKind.Server, brokerSpan.Kind);
        Assert.Equal(ActivityKind.Server, workerSpan.Kind);

        output.WriteLine($"{"span",-8} {"name",-20} {"kind",-7} {"trace id",-32} {"span id",-16} {"parent id",-16} duration");
        foreach (var (role, span) in new[] { ("client", clientSpan), ("broker", brokerSpan), ("worker", workerSpan) })
        {
            var parent = span.ParentSpanId == default ? "-" : span.ParentSpanId.ToHexString();
            output.WriteLine($"{role,-8} {span.DisplayName,-20} {span.Kind,-7} {span.TraceId} {span.SpanId} {parent,-16} {span.Duration.TotalMilliseconds:0.000} ms");
        }
    }

    /// <summary>
    /// A span sampled out (a listener that asks only to propagate, as a ratio sampler answers for most requests) still
    /// tells the worker its trace is not sampled, so that the worker does not start one of its own; but the broker keeps
    /// nothing for it that nobody will read (before, its "dispatched" event: a clock read and a list node a request).
    /// </summary>
    [Fact]
    public async Task A_broker_span_sampled_out_tells_the_worker_so_and_records_no_event()
    {
        using var spans = new SpanRecorder(ActivitySamplingResult.PropagationData);
        var service = $"unsampled-{Guid.NewGuid():N}"[..20];
        string? seenByWorker = null;
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "unsampled-worker", service: service, handler: (request, _) =>
        {
            seenByWorker = request.Headers["traceparent"];
            return ValueTask.FromResult(CourierBody.Text("ok"));
        });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(10) });

        await client.RequestAsync(service, "x");

        // The worker was told the broker's span: its id names which stopped span is the broker's.
        await Poll.UntilAsync(() => seenByWorker is not null && spans.Of(service).Any(a => a.Id == seenByWorker), TimeSpan.FromSeconds(30), "the broker's span stopped");
        var brokerSpan = spans.Of(service).Single(a => a.Id == seenByWorker);
        Assert.False(brokerSpan.Recorded);
        Assert.EndsWith("-00", seenByWorker, StringComparison.Ordinal); // not sampled, said downstream
        Assert.Empty(brokerSpan.Events);
    }

    [Fact]
    public async Task A_server_span_is_the_child_of_the_client_span_and_the_handler_sees_the_traceparent()
    {
        using var spans = new SpanRecorder();
        var service = $"direct-{Guid.NewGuid():N}"[..20];
        string? seen = null;
        await using var server = await TestServer.StartAsync(map: s => s.Map(service, (request, _) =>
        {
            seen = request.Headers["traceparent"];
            return ValueTask.FromResult(CourierBody.Text("ok"));
        }));
        await using var client = TestServer.Client(server.Endpoint!);

        await client.RequestAsync(service, "x");

        await Poll.UntilAsync(() => spans.Of(service).Count == 2, TimeSpan.FromSeconds(30), "client and server spans stopped");
        var clientSpan = spans.Of(service).Single(a => a.Kind == ActivityKind.Client);
        var serverSpan = spans.Of(service).Single(a => a.Kind == ActivityKind.Server);
        Assert.Equal(clientSpan.TraceId, serverSpan.TraceId);
        Assert.Equal(clientSpan.SpanId, serverSpan.ParentSpanId);
        Assert.Equal(clientSpan.Id, seen);
    }

    [Fact]
    public async Task A_traceparent_the_caller_set_is_sent_as_it_is_with_its_tracestate()
    {
        using var spans = new SpanRecorder();
        var service = $"explicit-{Guid.NewGuid():N}"[..20];
        const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        List<KeyValuePair<string, string>>? seen = null;
        await using var server = await TestServer.StartAsync(map: s => s.Map(service, (request, _) =>
        {
            seen = [.. request.Headers];
            return ValueTask.FromResult(CourierBody.Text("ok"));
        }));
        await using var client = TestServer.Client(server.Endpoint!);
        var options = CourierRequestOptions.Default with
        {
            Headers = new CourierHeaders().Add("traceparent", TraceParent).Add("tracestate", "vendor=1"),
        };

        await client.RequestAsync(service, "x", options);

        await Poll.UntilAsync(() => spans.Of(service).Count == 2, TimeSpan.FromSeconds(30), "client and server spans stopped");
        var serverSpan = spans.Of(service).Single(a => a.Kind == ActivityKind.Server);
        Assert.Equal(
            [new("traceparent", TraceParent), new("tracestate", "vendor=1")],
            seen!);
        Assert.Equal(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "vendor=1"),
            (serverSpan.TraceId.ToHexString(), serverSpan.ParentSpanId.ToHexString(), serverSpan.TraceStateString));
    }

    [Fact]
    public async Task A_garbage_traceparent_from_a_hostile_peer_is_ignored_and_the_request_is_served()
    {
        using var spans = new SpanRecorder();
        var logs = new RecordingLoggerFactory();
        var service = $"garbage-{Guid.NewGuid():N}"[..20];
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = logs });
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "garbage-worker", service: service, configure: o => o with { LoggerFactory = logs }, handler: Echo);
        await using var canaryWorker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "canary-worker", service: "canary", handler: Echo);
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs }, s => s.Map(service, Echo));
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(10) });
        await using var direct = TestServer.Client(server.Endpoint!);
        string[] garbage =
        [
            "garbage",
            "00-00000000000000000000000000000000-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-éééééééééééééééééééééééééééééééé-00f067aa0ba902b7-01",
            new string('0', 8000),
            "",
        ];

        foreach (var traceParent in garbage)
        {
            var options = CourierRequestOptions.Default with
            {
                Headers = new CourierHeaders().Add("traceparent", traceParent).Add("tracestate", new string(',', 100)),
            };
            Assert.Equal("x", (await client.RequestAsync(service, "x", options)).BodyText);
            Assert.Equal("x", (await direct.RequestAsync(service, "x", options)).BodyText);
        }

        await Poll.UntilAsync(() => spans.Of(service).Count == 5 * garbage.Length, TimeSpan.FromSeconds(30), "every span stopped");
        var brokerSpans = spans.Of(service).Where(a => Equals(a.GetTagItem("courier.role"), "broker")).ToList();
        var workerSpans = spans.Of(service).Where(a => Equals(a.GetTagItem("courier.role"), "worker")).ToList();
        var serverSpans = spans.Of(service).Where(a => Equals(a.GetTagItem("courier.role"), "server")).ToList();
        Assert.Equal(garbage.Length, brokerSpans.Count);
        Assert.All(brokerSpans.Concat(serverSpans), span => Assert.Equal(default, span.ParentSpanId)); // roots: nothing was parsed
        Assert.All(workerSpans, span => Assert.Contains(brokerSpans, b => b.SpanId == span.ParentSpanId));
        await canary.AssertUnharmedAsync();
        Assert.True(logs.AtLeast(LogLevel.Warning).Length == 0, logs.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task Without_a_listener_no_trace_context_is_added_to_a_request()
    {
        var service = $"quiet-{Guid.NewGuid():N}"[..20];
        var seen = new System.Collections.Concurrent.ConcurrentQueue<int>();
        CourierHandler count = (request, _) =>
        {
            seen.Enqueue(request.Headers.Count);
            return ValueTask.FromResult(CourierBody.Text("ok"));
        };
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "quiet-worker", service: service, handler: count);
        await using var server = await TestServer.StartAsync(map: s => s.Map(service, count));
        await using var brokered = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(10) });
        await using var direct = TestServer.Client(server.Endpoint!);

        await brokered.RequestAsync(service, "x");
        await direct.RequestAsync(service, "x");

        Assert.Equal([0, 0], seen);
    }
}

/// <summary>Tests that attach a listener to Courier's activity source, which is process-wide: run after the others, alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ActivityListenerTests
{
    public const string Name = "activity listener";
}
