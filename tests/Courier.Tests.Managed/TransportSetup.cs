using System.Runtime.CompilerServices;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests;

/// <summary>This assembly runs the whole of Courier.Tests again on the managed transport (NetMQ).</summary>
internal static class TransportSetup
{
    [ModuleInitializer]
    internal static void PinTransport() => TransportResolver.AutoMeans = TransportImplementation.Managed;
}
