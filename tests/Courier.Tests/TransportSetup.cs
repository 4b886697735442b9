using System.Runtime.CompilerServices;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests;

/// <summary>
/// This assembly runs every test on the native transport (libzmq); Courier.Tests.Managed compiles the same tests and
/// runs them on the managed one (NetMQ). Tests that name no implementation get the one chosen here.
/// </summary>
internal static class TransportSetup
{
    [ModuleInitializer]
    internal static void PinTransport()
        => TransportResolver.AutoMeans = TransportResolver.NativeAvailable ? TransportImplementation.Native : TransportImplementation.Managed;
}
