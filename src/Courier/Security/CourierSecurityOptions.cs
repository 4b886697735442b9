using Courier.Internal;

namespace Courier.Security;

/// <summary>
/// CURVE encryption and authentication (ZeroMQ RFC 26 and 27) for a server, broker, client or worker: every setting a
/// certificate file or directory in czmq's format (<c>courier keygen</c> writes them). Off by default
/// (<see cref="Default"/>): set <see cref="CertificateFile"/> to turn it on. Needs the native transport (libzmq):
/// NetMQ's CURVE can be bypassed by a ZMTP 1/2 peer and it has no ZAP, so the managed transport refuses these settings.
/// See docs/security.md.
/// </summary>
public sealed record CourierSecurityOptions
{
    /// <summary>No security: plain ZMTP (the NULL mechanism), every setting null.</summary>
    public static CourierSecurityOptions Default { get; } = new();

    /// <summary>
    /// This process's own secret certificate (<c>NAME.key_secret</c>, holding both keys). Setting it turns CURVE on: a
    /// server or broker listens as a CURVE server with it, a client or worker uses it as its own key pair.
    /// </summary>
    public string? CertificateFile { get; init; }

    /// <summary>For clients and workers: the public certificate (<c>NAME.key</c>) of the server or broker they connect to.</summary>
    public string? ServerCertificateFile { get; init; }

    /// <summary>
    /// For servers and brokers: a directory of public certificates (<c>*.key</c>); only a peer whose public key is one
    /// of them is admitted (by ZAP, at the handshake). Re-read when its files change, without a restart. Null admits
    /// any peer that knows the server's public key (encryption without authentication).
    /// </summary>
    public string? AllowDirectory { get; init; }

    /// <summary>
    /// For servers and brokers: a JSON policy of which client keys may call which services and which worker keys may
    /// serve which (docs/security.md gives the format). Re-read when it changes. Null lets every admitted peer call and
    /// serve every service.
    /// </summary>
    public string? PolicyFile { get; init; }

    /// <summary>Whether CURVE is on (<see cref="CertificateFile"/> is set).</summary>
    public bool Enabled => CertificateFile is not null;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming <paramref name="record"/>.Security.<em>setting</em> when a setting
    /// does not fit a role that listens (<paramref name="listens"/>) or connects.
    /// </summary>
    public void Validate(string record, bool listens)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(record);
        var anySet = CertificateFile is not null || ServerCertificateFile is not null || AllowDirectory is not null || PolicyFile is not null;
        Require(!anySet || !string.IsNullOrWhiteSpace(CertificateFile), record, nameof(CertificateFile), "must name this process's secret certificate (NAME.key_secret) when any security setting is given");
        if (listens)
        {
            Require(ServerCertificateFile is null, record, nameof(ServerCertificateFile), "is for clients and workers, which connect; a listener has only its own CertificateFile");
            Require(AllowDirectory is null || !string.IsNullOrWhiteSpace(AllowDirectory), record, nameof(AllowDirectory), "must not be empty");
            Require(PolicyFile is null || !string.IsNullOrWhiteSpace(PolicyFile), record, nameof(PolicyFile), "must not be empty");
        }
        else
        {
            Require(!anySet || !string.IsNullOrWhiteSpace(ServerCertificateFile), record, nameof(ServerCertificateFile), "must name the public certificate (NAME.key) of the server or broker to connect to");
            Require(AllowDirectory is null, record, nameof(AllowDirectory), "is for servers and brokers, which admit peers");
            Require(PolicyFile is null, record, nameof(PolicyFile), "is for servers and brokers, which admit peers");
        }
    }

    private static void Require(bool ok, string record, string setting, string rule) => OptionsGuard.Require(ok, record + ".Security", setting, rule);
}
