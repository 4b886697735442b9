using System.Text;
using Courier.Broker.Internal;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

/// <summary>
/// The broker's answers about one service are answered fresh when small, and kept for the tick when large: a 30-byte
/// request naming a service with hundreds of workers must not make the broker build tens of KB of JSON each time.
/// </summary>
public sealed class BrokerMmiTests
{
    [Fact]
    public void A_large_answer_about_one_service_is_built_once_per_tick_and_a_small_one_each_time()
    {
        var services = new Dictionary<string, BrokerService>(StringComparer.Ordinal)
        {
            ["crowded"] = WithWorkers("crowded", 200),
            ["quiet"] = WithWorkers("quiet", 1),
        };
        var mmi = new BrokerMmi(services, new BrokerTelemetry());

        var first = mmi.Answer("mmi.workers", "crowded"u8)![0];
        Assert.True(first.Length >= 4096, $"{first.Length} bytes: not large enough to show the cache");
        Assert.True(first.Equals(mmi.Answer("mmi.workers", "crowded"u8)![0]), "built again within the tick");
        Assert.False(mmi.Answer("mmi.workers", "quiet"u8)![0].Equals(mmi.Answer("mmi.workers", "quiet"u8)![0]), "a small answer kept");

        mmi.OnTick();
        var next = mmi.Answer("mmi.workers", "crowded"u8)![0];
        Assert.False(first.Equals(next), "kept past the tick");
        Assert.Equal(Encoding.UTF8.GetString(first.Span), Encoding.UTF8.GetString(next.Span));
    }

    private static BrokerService WithWorkers(string name, int count)
    {
        var service = new BrokerService(name, 0, new QueueLedger());
        for (var i = 0; i < count; i++)
        {
            var peer = new WorkerPeer(BitConverter.GetBytes(i), WorkerCapability.None, 0);
            service.Workers.Add(new BrokerWorker(peer, service, 1));
        }

        return service;
    }
}
