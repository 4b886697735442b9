using Courier.Broker;
using Courier.Client;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests.Integration;

/// <summary>Both transports speak ZMTP 3: each works against the other on the wire.</summary>
public sealed class TransportInteropTests
{
    [SkippableFact]
    public void Native_transport_loads_where_libzmq_is_installed()
    {
        if (!TransportResolver.NativeAvailable && Repo.IsCi)
        {
            Assert.Fail("libzmq5 is required in CI: the native transport's tests must not be skipped.");
        }

        Skip.IfNot(TransportResolver.NativeAvailable, "libzmq is missing: apt-get install libzmq5");
        var transport = TransportResolver.Resolve(TransportOptions.Default with { Implementation = TransportImplementation.Native }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Assert.Equal("native", transport.Name);
    }

    [SkippableTheory]
    [InlineData(TransportImplementation.Managed, TransportImplementation.Native)]
    [InlineData(TransportImplementation.Native, TransportImplementation.Managed)]
    public async Task Client_and_worker_on_one_transport_work_through_a_broker_on_the_other(TransportImplementation clientSide, TransportImplementation brokerSide)
    {
        Skip.IfNot(TransportResolver.NativeAvailable, "libzmq is missing: apt-get install libzmq5");
        var client = TransportOptions.Default with { Implementation = clientSide };
        var broker = TransportOptions.Default with { Implementation = brokerSide };
        await using var theBroker = await TestBroker.StartAsync(o => o with { Transport = broker });
        await using var worker = await TestBroker.StartWorkerAsync(theBroker.Endpoint!, "cross", configure: o => o with { Transport = client });
        await using var theClient = TestServer.Client(theBroker.Endpoint!, o => o with { Transport = client });
        await TestBroker.WaitForWorkersAsync(theClient, "echo", 1);

        var replies = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => theClient.RequestAsync("echo", $"{i}")));

        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"{i}"), replies.Select(r => System.Text.Encoding.UTF8.GetString(r.Frames[1].Span)));
    }
}
