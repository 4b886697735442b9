using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// A worker the broker gave up (silent past its liveness) may still answer what it held. A late refusal, 429 or 503,
/// says the request never ran there: its caller gets 503, which it may send anywhere, and the broker remembers no run.
/// </summary>
public sealed class LateRefusalTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_late_429_from_a_worker_given_up_reaches_its_caller_as_a_503_that_never_ran_and_the_retry_runs_elsewhere()
    {
        // The fake worker never heartbeats: given up after 3 × 1 s, then its requests wait one more liveness for its reply.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(1), HeartbeatLiveness = 3 });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = Wait, Retries = 0 });
        using var fake = await RawWorker.RegisterAsync(broker.Endpoint!, client, "late", "courier/6 capacity=1 name=given-up");

        var pending = client.RequestAsync("late", "once");
        var token = fake.ReceiveRequest();
        await using var staying = await TestBroker.StartWorkerAsync(broker.Endpoint!, "staying", service: "late");
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(client, "late")).All(w => w.Name != "given-up"), Wait, "the silent worker given up");

        // Its late answer: no room. The request never ran there, so its caller may send it again, and a
        // worker that has room runs it. Remembered as run, the retry would get that error back instead.
        fake.Reply(token, "429", "full");

        Assert.Equal("staying", (await pending.WaitAsync(Wait)).BodyText);
    }
}
