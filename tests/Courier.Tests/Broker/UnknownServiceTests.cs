using Courier.Client;
using Courier.Protocol;
using Courier.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Courier.Tests.Broker;

/// <summary>
/// Through a broker, a Courier client asking for a service that has had no worker for the grace period gets 404 at once,
/// as from a direct server; a stock 7/MDP client keeps waiting for a worker, as 7/MDP specifies.
/// </summary>
public sealed class UnknownServiceTests
{
    // Long enough that a request still waiting when the test looks could only be waiting for a worker, not a timeout.
    private static CourierClient Client(string endpoint, ClientProtocol protocol = ClientProtocol.Auto)
        => TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0, Protocol = protocol });

    [Fact]
    public async Task A_courier_client_gets_404_at_once_for_a_service_no_worker_serves()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { ServiceGracePeriod = TimeSpan.Zero });
        await using var client = Client(broker.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("nosuch", "x"));

        Assert.Equal(CourierStatus.NotFound, error.StatusCode);
        Assert.Contains("no worker serves 'nosuch'", error.RemoteMessage, StringComparison.Ordinal);
        Assert.Equal(0, (await TestBroker.StatsAsync(client, "nosuch")).Queued); // no state kept for the name
    }

    [Fact]
    public async Task A_stock_mdp_client_waits_for_a_worker_and_is_served_when_one_comes()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { ServiceGracePeriod = TimeSpan.Zero });
        await using var client = Client(broker.Endpoint!, ClientProtocol.Mdp);
        await using var observer = Client(broker.Endpoint!);

        var waiting = client.RequestAsync("later", "x");
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "later")).Queued == 1, TimeSpan.FromSeconds(30), "the request queued");
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "late-worker", service: "later");

        Assert.Equal("late-worker", (await waiting).BodyText);
    }

    [Fact]
    public async Task Queued_courier_requests_get_404_once_the_last_worker_has_been_gone_for_the_grace_period_and_mdp_ones_keep_waiting()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await TestBroker.StartAsync(o => o with { ServiceGracePeriod = TimeSpan.FromSeconds(10), TimeProvider = clock });
        await using var courier = Client(broker.Endpoint!);
        await using var mdp = Client(broker.Endpoint!, ClientProtocol.Mdp);
        var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "leaving", service: "svc");
        await TestBroker.WaitForWorkersAsync(courier, "svc", 1);
        await worker.DisposeAsync();
        await TestBroker.WaitForWorkersAsync(courier, "svc", 0);

        // Within the grace period (the fake clock has not moved): both wait.
        var courierRequest = courier.RequestAsync("svc", "x");
        var mdpRequest = mdp.RequestAsync("svc", "y");
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(courier, "svc")).Queued == 2, TimeSpan.FromSeconds(30), "both queued");

        clock.Advance(TimeSpan.FromSeconds(11));

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => courierRequest);
        Assert.Equal(CourierStatus.NotFound, error.StatusCode);
        Assert.Equal(1, (await TestBroker.StatsAsync(courier, "svc")).Queued);
        Assert.False(mdpRequest.IsCompleted);
    }
}
