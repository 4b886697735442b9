using Courier.Transport.Internal;
using System.Runtime.CompilerServices;
using Courier.Transport;

namespace Courier.Tests;

/// <summary>This assembly runs the whole of Courier.Tests again on the managed transport (NetMQ).</summary>
internal static class TransportSetup
{
    [ModuleInitializer]
    internal static void PinTransport() => TransportResolver.AutoMeans = TransportImplementation.Managed;
}
