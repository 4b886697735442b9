using System.Diagnostics;
using Courier.Client;
using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Diagnostics;

/// <summary>The Courier activity source, read by a real ActivityListener.</summary>
public sealed class TracingTests
{
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
}
