using System.Runtime.InteropServices;
using Courier.Transport.Internal.Native;

namespace Courier.Transport.Internal;

/// <summary>CURVE key operations, done by libzmq (and its libsodium): the one place keys are made.</summary>
internal static unsafe class CurveKeys
{
    /// <summary>A fresh key pair, Z85.</summary>
    public static (string PublicKey, string SecretKey) Generate()
    {
        RequireLibZmq("generate a CURVE key pair");
        var publicKey = stackalloc byte[41];
        var secretKey = stackalloc byte[41];
        NativeTransport.Check(LibZmq.zmq_curve_keypair(publicKey, secretKey), "zmq_curve_keypair");
        return (Marshal.PtrToStringAnsi((nint)publicKey)!, Marshal.PtrToStringAnsi((nint)secretKey)!);
    }

    /// <summary>The public key of a Z85 secret key; null when libzmq is not there to say.</summary>
    public static string? TryDerivePublic(string secretKey)
    {
        if (!TransportResolver.NativeAvailable)
        {
            return null;
        }

        var publicKey = stackalloc byte[41];
        var secret = stackalloc byte[41];
        for (var i = 0; i < 40; i++)
        {
            secret[i] = (byte)secretKey[i];
        }

        secret[40] = 0;
        return LibZmq.zmq_curve_public(publicKey, secret) == 0 ? Marshal.PtrToStringAnsi((nint)publicKey) : null;
    }

    private static void RequireLibZmq(string what)
    {
        if (!TransportResolver.NativeAvailable)
        {
            throw new InvalidOperationException($"To {what}, Courier needs libzmq 4.3 or later (Debian: libzmq5).");
        }
    }
}
