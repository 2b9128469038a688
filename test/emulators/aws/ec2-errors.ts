// The error the EC2 emulator's model and server throw: HTTP status + EC2 error code + message
// (spec wire-and-cloud-apis.md §1.4). ec2-xml.ts turns it into the <Response><Errors> envelope.
export class Ec2Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}
