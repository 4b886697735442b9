using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Broker;

public sealed class WorkerHandlerTests
{
    private static async Task<(string Thread, string Body)> ServeOnceAsync(bool inline, CourierHandler handler)
    {
        await using var broker = await TestBroker.StartAsync();
        string? thread = null;
        CourierHandler recording = (request, cancellationToken) =>
        {
            thread = Thread.CurrentThread.Name ?? "(thread pool)";
            return handler(request, cancellationToken);
        };
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "w", configure: o => o with { RunHandlersInline = inline }, handler: recording);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });
        var reply = await client.RequestAsync("echo", "x");
        return (thread!, reply.BodyText);
    }

    [Theory]
    [InlineData(false, "(thread pool)")]
    [InlineData(true, "courier-worker-w")]
    public async Task Handler_runs_on_the_thread_pool_unless_inline_is_asked_for(bool inline, string expectedThread)
    {
        var (thread, body) = await ServeOnceAsync(inline, CourierServices.Echo);

        Assert.Equal(expectedThread, thread == ".NET TP Worker" ? "(thread pool)" : thread);
        Assert.Equal("x", body);
    }

    [Fact]
    public async Task Worker_handler_failures_reach_the_client_through_the_broker_as_chosen_status_or_500_with_an_error_id()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", handler: (request, _) => request.BodyText == "gone"
            ? throw new CourierServiceException(Protocol.CourierStatus.PoisonRequest, "will not serve 'gone'")
            : throw new InvalidOperationException("connection string Password=hunter2"));
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });

        var chosen = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("echo", "gone"));
        var failed = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("echo", "x"));

        Assert.Equal((Protocol.CourierStatus.PoisonRequest, "will not serve 'gone'"), (chosen.StatusCode, chosen.RemoteMessage));
        Assert.Equal(Protocol.CourierStatus.ServerError, failed.StatusCode);
        Assert.Matches("^handler failed; error id [0-9a-f]{12}$", failed.RemoteMessage);
    }

    [Fact]
    public async Task Requests_one_at_a_time_each_get_their_own_bytes_back_whatever_their_sizes()
    {
        // One at a time, each request travels alone, in arrays the broker reuses from the request before when the
        // lengths match: every reply must still carry its own request's bytes.
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", handler: CourierServices.Echo);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });
        string[] bodies = ["a", "b", "cc", "dd", "e", new string('f', 900), new string('g', 900), new string('h', 1500), new string('i', 1500), "j", ""];

        foreach (var body in bodies)
        {
            Assert.Equal(body, (await client.RequestAsync("echo", body)).BodyText);
        }
    }

    [Fact]
    public async Task Inline_handler_that_awaits_is_answered_when_it_completes()
    {
        var (_, body) = await ServeOnceAsync(true, CourierServices.WithDelay(CourierServices.Echo, TimeSpan.FromMilliseconds(50)));

        Assert.Equal("x", body);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public async Task Handler_that_throws_before_or_after_its_first_await_is_answered_500(bool inline, bool afterAwait)
    {
        CourierHandler failing = afterAwait ? FailsLate : FailsEarly;

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => ServeOnceAsync(inline, failing));

        Assert.Equal(500, error.StatusCode);
        Assert.Matches("^handler failed; error id [0-9a-f]{12}$", error.RemoteMessage);
    }

    private static async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> FailsLate(CourierRequest request, CancellationToken cancellationToken)
    {
        await Task.Delay(10, cancellationToken);
        throw new InvalidOperationException("late");
    }

    private static ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> FailsEarly(CourierRequest request, CancellationToken cancellationToken)
        => throw new InvalidOperationException("early");
}
