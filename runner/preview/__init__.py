"""The preview page: what each recipient's phone will show (campaign preview --html)."""
