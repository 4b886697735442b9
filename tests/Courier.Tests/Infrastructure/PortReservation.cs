using System.Net;
using System.Net.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A loopback TCP port held by the test: a socket bound to it that never listens. Connections to it are refused, and
/// while it is held the kernel gives the port to nobody else (not to a <c>tcp://127.0.0.1:*</c> bind, not as the local
/// port of an outgoing connection), so "a port nothing listens on" cannot be taken by another test or process.
/// </summary>
/// <remarks>
/// Servers and brokers bind <c>tcp://127.0.0.1:*</c> and report the port they got; a reservation is for what that
/// cannot do: an endpoint nothing listens on, or one a server must bind later (started after its client, or restarted
/// after a kill). The socket has SO_REUSEADDR, as libzmq's, NetMQ's and .NET's listeners do, so a server can bind and
/// listen on the reserved port while the reservation is still held: the port is never free in between. Linux lets
/// reusing sockets share a port as long as at most one of them listens.
/// </remarks>
public sealed class PortReservation : IDisposable
{
    private readonly Socket _socket;

    private PortReservation(Socket socket)
    {
        _socket = socket;
        Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public string Endpoint => $"tcp://127.0.0.1:{Port}";

    /// <summary>Reserves a port the kernel picks.</summary>
    public static PortReservation Any() => Bind(0) ?? throw new InvalidOperationException("could not reserve a loopback port");

    /// <summary>
    /// Reserves the port of <paramref name="endpoint"/> again once its listener is gone (a process just killed), so
    /// that nothing else takes it before the test's next server binds it.
    /// </summary>
    public static async Task<PortReservation> RetakeAsync(string endpoint)
    {
        PortReservation? reservation = null;
        await Poll.UntilAsync(() => (reservation = Bind(Ports.Of(endpoint))) is not null, TimeSpan.FromSeconds(30), $"{endpoint} free to reserve again");
        return reservation!;
    }

    public void Dispose() => _socket.Dispose();

    private static PortReservation? Bind(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return new PortReservation(socket);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && port != 0)
        {
            socket.Dispose();
            return null; // still listened on
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
