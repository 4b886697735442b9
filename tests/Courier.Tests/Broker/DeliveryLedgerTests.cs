using Courier.Client;
using Courier.Tests.Infrastructure;
using Courier.Worker;

namespace Courier.Tests.Broker;

/// <summary>
/// The broker's at-most-once ledger holds a courier/5 request only while it is in progress: however it ends (a reply
/// remembered or not, a refusal, a displacement, a cancel), it leaves. An entry left behind would be memory held for
/// every request ever served, and a key that a resend could join long after its slot served another client.
/// </summary>
public sealed class DeliveryLedgerTests
{
    [Fact]
    public async Task Every_request_leaves_the_ledger_however_it_ends()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { MaxQueuedPerService = 4, ServiceGracePeriod = Timeout.InfiniteTimeSpan });
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "both"))
            .Map("idempotent", TestBroker.Tagged("i"), idempotent: true)
            .Map("once", TestBroker.Tagged("o"));
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(3), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, "once", 1);

        // Replies: not remembered (idempotent) and remembered (at most once).
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.RequestAsync(i % 2 == 0 ? "idempotent" : "once", $"r{i}")));

        // Refusals and displacements: a service with no worker, its queue full, a second client taking a place.
        var waiting = Enumerable.Range(0, 8).Select(i => client.RequestAsync("nobody", $"w{i}")).ToList();
        // A short budget: a courier/5 client's queued requests outlive its connection (a resend on another joins them)
        // until their budget ends.
        await using var other = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(3), Retries = 0 });
        waiting.Add(other.RequestAsync("nobody", "other"));
        await Poll.UntilAsync(() => waiting.Count(t => t.IsFaulted) >= 5, what: "the surplus refused");

        // Cancels: what is left of the queue is given up.
        using (var cancel = new CancellationTokenSource())
        {
            var cancelled = Enumerable.Range(0, 3).Select(i => other.RequestAsync("nobody", $"c{i}", cancel.Token)).ToArray();
            await cancel.CancelAsync();
            await Task.WhenAll(cancelled.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        }

        await client.DisposeAsync();
        await other.DisposeAsync();

        // The clients are gone: what they had queued leaves at its deadline at the latest.
        await Poll.UntilAsync(() => broker.TrackedInProgress == 0, what: $"an empty ledger (holds {broker.TrackedInProgress})");
    }
}
