using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>A raw DEALER for tests that write a peer's frames by hand: connected, nothing kept at close.</summary>
internal static class TestDealer
{
    public static DealerSocket Connect(string endpoint)
    {
        var socket = new DealerSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(endpoint);
        return socket;
    }
}
