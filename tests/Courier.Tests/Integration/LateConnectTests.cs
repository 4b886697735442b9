using System.Net;
using System.Net.Sockets;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests.Integration;

/// <summary>
/// A socket whose endpoint's name is looked up too slowly is connected when the lookup answers, and its owner is told,
/// so that what it sent into nothing (a client's or worker's protocol probe) goes again (<see cref="HostResolver"/>).
/// </summary>
public sealed class LateConnectTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_socket_whose_first_lookup_is_slow_connects_when_it_answers_and_tells_its_owner()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var answer = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var resolver = new HostResolver(_ => answer.Task, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
        using var logs = new RecordingLoggerFactory();
        var transport = TransportResolver.Resolve(TransportOptions.Default, logs.CreateLogger("test"));
        using var loop = transport.CreateLoop("late", logs.CreateLogger("loop"));
        loop.Start(TimeSpan.FromMilliseconds(50), static () => { }, static () => { });

        var told = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var created = await loop.ReadAsync(() => loop.CreateConnected(
            SocketKind.Dealer, TransportOptions.Default, new Silent(), $"tcp://slow-name:{port}", told.SetResult, resolver)).WaitAsync(Wait);
        var accepting = listener.AcceptTcpClientAsync();
        Assert.False(told.Task.IsCompleted, "told of a connect before the lookup answered");

        answer.SetResult([IPAddress.Loopback]);
        using var accepted = await accepting.WaitAsync(Wait);
        await told.Task.WaitAsync(Wait);
        Assert.False(created.IsClosed);
    }

    private sealed class Silent : ISocketHandler
    {
        public bool OnMessage(MessageFrames message) => true;

        public void OnPeerDisconnected(ReadOnlySpan<byte> routingId)
        {
        }
    }
}
