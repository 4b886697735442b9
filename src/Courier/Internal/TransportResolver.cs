using Courier.Transport.Internal;
using Courier.Transport.Internal.NetMQ;

namespace Courier.Internal;

/// <summary>Chooses the transport implementation. Only the managed one exists so far.</summary>
internal static class TransportResolver
{
    public static ITransport Resolve() => NetMqTransport.Instance;
}
